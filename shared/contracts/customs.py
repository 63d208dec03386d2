"""Events published by the customs service on ``aidport.customs.events``."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from shared.contracts.base import DomainEvent, registry
from shared.contracts.limits import (
    CODE_LENGTH,
    MAX_LINES,
    MAX_RECEIVED,
    NAME_LENGTH,
    REMARKS_LENGTH,
    Code,
    FreeText,
    Text,
)
from shared.contracts.values import Channel, Frozen, LineItem, Priority, ReceivedLot

USER_LENGTH = 64
MAX_HOLDS = 50
"""Holds on one case, open and released together."""


class Lane(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class Examination(StrEnum):
    NONE = "none"
    DOCUMENTARY = "documentary"
    PHYSICAL = "physical"


@registry.register
class ClearanceCaseOpened(DomainEvent):
    event_type = "aidport.customs.ClearanceCaseOpened.v1"

    airport: Code = Field(max_length=3)
    donor: Text = Field(max_length=NAME_LENGTH)
    channel: Channel
    airway_bill: Code = Field(max_length=CODE_LENGTH)
    expected_arrival: datetime
    lines: tuple[LineItem, ...] = Field(max_length=MAX_LINES)
    priority: Priority = Priority.ROUTINE


@registry.register
class GoodsPresented(DomainEvent):
    """The consignment has landed and is presented to customs with what was received."""

    event_type = "aidport.customs.GoodsPresented.v1"

    arrived_at: datetime
    received: tuple[ReceivedLot, ...] = Field(max_length=MAX_RECEIVED)


@registry.register
class ClearedFastTrack(DomainEvent):
    event_type = "aidport.customs.ClearedFastTrack.v1"

    airport: Code = Field(max_length=3)
    donor: Text = Field(max_length=NAME_LENGTH)
    declaration_number: Code = Field(max_length=CODE_LENGTH)
    lane: Lane
    examination: Examination
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)
    cleared_at: datetime
    lines: tuple[LineItem, ...] = Field(max_length=MAX_LINES)
    priority: Priority = Priority.ROUTINE


class DeclarationType(StrEnum):
    FULL = "full"
    SIMPLIFIED = "simplified"
    PROVISIONAL = "provisional"


class Document(StrEnum):
    """The case's checklist. The import licence applies to vaccines and medicines only."""

    AIRWAY_BILL = "airway_bill"
    PACKING_LIST = "packing_list"
    INVOICE = "invoice"  # or pro-forma
    DONATION_LETTER = "donation_letter"
    LOT_RELEASE_CERTIFICATE = "lot_release_certificate"
    IMPORT_LICENCE = "import_licence"


class DocumentStatus(StrEnum):
    RECEIVED = "received"
    MISSING = "missing"
    WAIVED = "waived"  # with a reason


class PermitStatus(StrEnum):
    GRANTED = "granted"
    DEEMED_GRANTED = "deemed_granted"
    PENDING = "pending"


class HoldReason(StrEnum):
    MISSING_DOCUMENT = "missing_document"
    INSPECTION = "inspection"
    QUARANTINE = "quarantine"
    LICENCE_PENDING = "licence_pending"


class ExaminationPlace(StrEnum):
    AIRPORT = "airport"
    COLD_STORE = "cold_store"


class RefusalOutcome(StrEnum):
    RE_EXPORT = "re_export"
    DESTRUCTION = "destruction"


class HeldLot(Frozen):
    """Units of one lot under a hold (``NO_LOT`` "" for a line announced without lots)."""

    line_no: int = Field(ge=1, le=MAX_LINES)
    lot_number: Code = Field("", max_length=CODE_LENGTH)
    quantity: int = Field(ge=1, le=10**9)


class LotExpiry(Frozen):
    """The expiry intake read on a presented lot, for lots the manifest did not list."""

    line_no: int = Field(ge=1, le=MAX_LINES)
    lot_number: Code = Field(max_length=CODE_LENGTH)
    expiry_date: date


@registry.register
class GoodsPresentedV2(DomainEvent):
    """One arrival part presented to customs: only the units intake accepted."""

    event_type = "aidport.customs.GoodsPresented.v2"

    part_no: int = Field(1, ge=1, le=20)
    arrived_at: datetime
    received: tuple[ReceivedLot, ...] = Field(max_length=MAX_RECEIVED)
    expiries: tuple[LotExpiry, ...] = Field((), max_length=MAX_RECEIVED)


@registry.upcaster(GoodsPresented.event_type, GoodsPresentedV2.event_type)
def _presented_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "part_no": 1}


@registry.register
class DeclarationLodged(DomainEvent):
    """The customs declaration (VNACCS, 12 digits). A provisional one may be lodged before
    arrival and carries the date by which it must be completed."""

    event_type = "aidport.customs.DeclarationLodged.v1"

    declaration_number: Code = Field(pattern=r"^[0-9]{12}$")
    declaration_type: DeclarationType
    completion_deadline: date | None = None
    exemption_basis: Text = Field("", max_length=NAME_LENGTH)  # e.g. Resolution 106/NQ-CP
    lodged_by: Code = Field(max_length=USER_LENGTH)
    lodged_at: datetime


@registry.register
class DocumentRecorded(DomainEvent):
    event_type = "aidport.customs.DocumentRecorded.v1"

    document: Document
    status: DocumentStatus
    reason: FreeText = Field("", max_length=REMARKS_LENGTH)  # required when waived
    recorded_by: Code = Field(max_length=USER_LENGTH)
    recorded_at: datetime


@registry.register
class PermitRecorded(DomainEvent):
    """A permit from another agency (health, quarantine), as that agency decided it."""

    event_type = "aidport.customs.PermitRecorded.v1"

    agency: Text = Field(max_length=NAME_LENGTH)
    status: PermitStatus
    reference: Code = Field("", max_length=CODE_LENGTH)
    recorded_by: Code = Field(max_length=USER_LENGTH)
    recorded_at: datetime


@registry.register
class LaneAssigned(DomainEvent):
    event_type = "aidport.customs.LaneAssigned.v1"

    lane: Lane
    assigned_by: Code = Field(max_length=USER_LENGTH)
    assigned_at: datetime
    out_of_hours: bool = False


@registry.register
class GoodsExamined(DomainEvent):
    """The physical examination a red lane requires before release."""

    event_type = "aidport.customs.GoodsExamined.v1"

    place: ExaminationPlace
    partial: bool = False
    findings: FreeText = Field("", max_length=REMARKS_LENGTH)
    examined_by: Code = Field(max_length=USER_LENGTH)
    examined_at: datetime


@registry.register
class HoldPlaced(DomainEvent):
    """A hold on the whole case (``lots`` empty) or on some lots. It stops release of what
    it covers, and stops the clock display, but not the SLA timer."""

    event_type = "aidport.customs.HoldPlaced.v1"

    hold_id: Code = Field(max_length=CODE_LENGTH)
    reason: HoldReason
    lots: tuple[HeldLot, ...] = Field((), max_length=MAX_RECEIVED)
    note: FreeText = Field("", max_length=REMARKS_LENGTH)
    placed_by: Code = Field(max_length=USER_LENGTH)
    placed_at: datetime


@registry.register
class HoldReleased(DomainEvent):
    event_type = "aidport.customs.HoldReleased.v1"

    hold_id: Code = Field(max_length=CODE_LENGTH)
    note: FreeText = Field("", max_length=REMARKS_LENGTH)
    released_by: Code = Field(max_length=USER_LENGTH)
    released_at: datetime


@registry.register
class GoodsReleased(DomainEvent):
    """A normal release, full or partial, with the units actually released per line (and
    their lots). Allocation allocates exactly these. ``ClearedFastTrack`` stays the event of
    the fast track."""

    event_type = "aidport.customs.GoodsReleased.v1"

    release_no: int = Field(ge=1, le=1000)
    airport: Code = Field(max_length=3)
    donor: Text = Field(max_length=NAME_LENGTH)
    declaration_number: Code = Field(max_length=CODE_LENGTH)
    lane: Lane
    partial: bool
    out_of_hours: bool = False
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)
    released_by: Code = Field(max_length=USER_LENGTH)
    released_at: datetime
    lines: tuple[LineItem, ...] = Field(max_length=MAX_LINES)
    priority: Priority = Priority.ROUTINE


@registry.register
class GoodsRefused(DomainEvent):
    """Goods refused entry: they are re-exported or destroyed, never allocated."""

    event_type = "aidport.customs.GoodsRefused.v1"

    outcome: RefusalOutcome
    reason: FreeText = Field(min_length=1, max_length=REMARKS_LENGTH)
    refused_by: Code = Field(max_length=USER_LENGTH)
    refused_at: datetime
    lines: tuple[LineItem, ...] = Field(max_length=MAX_LINES)


class CaseClosure(StrEnum):
    COMPLETED = "completed"  # everything accepted is released or refused
    CANCELLED = "cancelled"  # the shipment was cancelled before arrival
    NOTHING_TO_CLEAR = "nothing_to_clear"  # nothing usable arrived


@registry.register
class ClearanceCaseClosed(DomainEvent):
    event_type = "aidport.customs.ClearanceCaseClosed.v1"

    closure: CaseClosure
    closed_at: datetime


@registry.register
class ClearanceCaseAmended(DomainEvent):
    """The announcement was corrected before arrival: the case expects these lines now."""

    event_type = "aidport.customs.ClearanceCaseAmended.v1"

    donor: Text = Field(max_length=NAME_LENGTH)
    channel: Channel
    airway_bill: Code = Field(max_length=CODE_LENGTH)
    expected_arrival: datetime
    lines: tuple[LineItem, ...] = Field(max_length=MAX_LINES)
    reason: FreeText = Field("", max_length=REMARKS_LENGTH)
    priority: Priority | None = Field(None, description="None: the priority is unchanged")


@registry.register
class ArrivalsCompleted(DomainEvent):
    """Intake closed the consignment: no further part will be presented, so the case closes
    as completed once everything presented is released or refused."""

    event_type = "aidport.customs.ArrivalsCompleted.v1"

    completed_at: datetime
