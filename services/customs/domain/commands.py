"""What can be asked of a clearance case: reactions to intake's events, officers' commands.

Plain data, already validated for shape by the adapters; the rules are in ``reactions.py``
(reactions to intake), ``papers.py`` and ``release.py`` (officers' commands)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from shared.contracts.customs import (
    CaseClosure,
    DeclarationType,
    Document,
    DocumentStatus,
    Examination,
    ExaminationPlace,
    HeldLot,
    HoldReason,
    Lane,
    LotExpiry,
    PermitStatus,
    RefusalOutcome,
)
from shared.contracts.intake import ShipmentAmended, ShipmentAnnounced
from shared.contracts.values import Channel, LineItem, Priority, ReceivedLot

# -- reactions to intake's events -----------------------------------------------------------


@dataclass(frozen=True)
class OpenCase:
    shipment_id: UUID
    airport: str
    donor: str
    channel: Channel
    airway_bill: str
    expected_arrival: datetime
    lines: tuple[LineItem, ...]
    priority: Priority = Priority.ROUTINE

    @classmethod
    def from_announcement(cls, event: ShipmentAnnounced) -> OpenCase:
        return cls(
            event.shipment_id,
            event.airport,
            event.donor,
            event.channel,
            event.airway_bill,
            event.expected_arrival,
            event.lines,
            event.priority,
        )


@dataclass(frozen=True)
class AmendCase:
    donor: str
    channel: Channel
    airway_bill: str
    expected_arrival: datetime
    lines: tuple[LineItem, ...]
    reason: str
    priority: Priority | None = None  # None: unchanged

    @classmethod
    def from_amendment(cls, event: ShipmentAmended) -> AmendCase:
        return cls(
            event.donor,
            event.channel,
            event.airway_bill,
            event.expected_arrival,
            event.lines,
            event.reason,
            event.priority,
        )


@dataclass(frozen=True)
class PresentGoods:
    """One arrival part: only the units intake accepted."""

    arrived_at: datetime
    received: tuple[ReceivedLot, ...]
    part_no: int = 1
    expiries: tuple[LotExpiry, ...] = ()


@dataclass(frozen=True)
class CompleteArrivals:
    """Intake closed the consignment; ``nothing_to_clear`` when nothing usable arrived."""

    nothing_to_clear: bool
    now: datetime


@dataclass(frozen=True)
class CloseCase:
    closure: CaseClosure
    now: datetime


# -- officers' commands ----------------------------------------------------------------------


@dataclass(frozen=True)
class LodgeDeclaration:
    declaration_number: str
    declaration_type: DeclarationType
    completion_deadline: date | None
    exemption_basis: str
    by: str
    now: datetime


@dataclass(frozen=True)
class RecordDocument:
    document: Document
    status: DocumentStatus
    reason: str
    by: str
    now: datetime


@dataclass(frozen=True)
class RecordPermit:
    agency: str
    status: PermitStatus
    reference: str
    by: str
    now: datetime


@dataclass(frozen=True)
class AssignLane:
    lane: Lane
    by: str
    now: datetime
    out_of_hours: bool


@dataclass(frozen=True)
class RecordExamination:
    place: ExaminationPlace
    partial: bool
    findings: str
    by: str
    now: datetime


@dataclass(frozen=True)
class PlaceHold:
    """A hold on the whole case (no lots) or on units of some lots."""

    reason: HoldReason
    lots: tuple[HeldLot, ...]
    note: str
    by: str
    now: datetime


@dataclass(frozen=True)
class ReleaseHold:
    hold_id: str
    note: str
    by: str
    now: datetime


@dataclass(frozen=True)
class ReleaseGoods:
    """Release these units per lot, or (``lots`` None) everything releasable now."""

    lots: tuple[HeldLot, ...] | None
    remarks: str
    by: str
    now: datetime
    out_of_hours: bool


@dataclass(frozen=True)
class RefuseGoods:
    """Refuse these units per lot, or (``lots`` None) everything not yet released."""

    lots: tuple[HeldLot, ...] | None
    outcome: RefusalOutcome
    reason: str
    by: str
    now: datetime


@dataclass(frozen=True)
class ClearFastTrack:
    declaration_number: str
    lane: Lane
    examination: Examination
    remarks: str
    now: datetime


Reaction = OpenCase | AmendCase | PresentGoods | CompleteArrivals | CloseCase
OfficerCommand = (
    LodgeDeclaration
    | RecordDocument
    | RecordPermit
    | AssignLane
    | RecordExamination
    | PlaceHold
    | ReleaseHold
    | ReleaseGoods
    | RefuseGoods
    | ClearFastTrack
)
Command = Reaction | OfficerCommand
