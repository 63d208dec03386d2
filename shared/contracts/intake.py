"""Events published by the intake service on ``aidport.intake.events``."""

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
from shared.contracts.values import (
    Channel,
    CountedLot,
    Discrepancy,
    Frozen,
    LineItem,
    Priority,
    ReceivedLot,
)

MAX_PARTS = 20
"""Flights one consignment may arrive on."""
USER_LENGTH = 64


@registry.register
class ShipmentAnnounced(DomainEvent):
    event_type = "aidport.intake.ShipmentAnnounced.v1"

    donor: Text = Field(max_length=NAME_LENGTH)
    channel: Channel
    airport: Code = Field(max_length=3)
    flight: Code = Field(max_length=CODE_LENGTH)
    airway_bill: Code = Field(max_length=CODE_LENGTH)
    expected_arrival: datetime
    consignee: Text = Field(max_length=NAME_LENGTH)
    lines: tuple[LineItem, ...] = Field(max_length=MAX_LINES)
    priority: Priority = Priority.ROUTINE


@registry.register
class ShipmentArrived(DomainEvent):
    event_type = "aidport.intake.ShipmentArrived.v1"

    airport: Code = Field(max_length=3)
    arrived_at: datetime
    received: tuple[ReceivedLot, ...] = Field(max_length=MAX_RECEIVED)
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)


@registry.register
class ShipmentArrivedV2(DomainEvent):
    """One part of a consignment landed (one flight) and was counted lot by lot.

    A consignment may arrive in several parts; it is complete only when ``ShipmentClosed``
    follows. Per lot, counted = accepted + rejected (the contract checks it). Only the
    accepted units go on to customs."""

    event_type = "aidport.intake.ShipmentArrived.v2"

    airport: Code = Field(max_length=3)
    part_no: int = Field(ge=1, le=MAX_PARTS)
    flight: Code = Field("", max_length=CODE_LENGTH)
    arrived_at: datetime
    entered_cold_store_at: datetime | None = None
    lots: tuple[CountedLot, ...] = Field(max_length=MAX_RECEIVED)
    discrepancies: tuple[Discrepancy, ...] = Field((), max_length=MAX_RECEIVED)
    recorded_by: Code = Field("", max_length=USER_LENGTH)
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)


@registry.upcaster(ShipmentArrived.event_type, ShipmentArrivedV2.event_type)
def _arrival_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 was a one-shot arrival where every unit received was accepted."""
    lots = [
        {
            "line_no": lot["line_no"],
            "lot_number": lot["lot_number"],
            "counted": lot["quantity"],
            "accepted": lot["quantity"],
        }
        for lot in data.get("received", ())
    ]
    return {**data, "part_no": 1, "lots": lots}


MAX_BOXES = 100_000
"""Boxes one part of a consignment may hold (a wide-body freighter carries a few thousand)."""


class VarDocument(StrEnum):
    """Documents named by the VAR (parts I and IV): received in advance or with the goods."""

    PRE_ADVICE = "pre_advice"
    SHIPPING_NOTIFICATION = "shipping_notification"
    AIRWAY_BILL = "airway_bill"
    PACKING_LIST = "packing_list"
    INVOICE = "invoice"
    RELEASE_CERTIFICATE = "release_certificate"
    OTHER = "other"


class Coolant(StrEnum):
    DRY_ICE = "dry_ice"
    ICE_PACKS = "ice_packs"
    NONE = "none"


class LoggerAlarm(StrEnum):
    """The electronic temperature logger of a box (WHO: one per international carton)."""

    NO_ALARM = "no_alarm"
    ALARM = "alarm"
    NO_LOGGER = "no_logger"


class AdvanceNotice(Frozen):
    """VAR part I: the advance notice and the documents received before arrival."""

    received_on: date | None = None
    documents: tuple[VarDocument, ...] = Field((), max_length=len(VarDocument))


class FlightArrival(Frozen):
    """VAR part II: the actual arrival, and when the goods entered the cold store."""

    flight: Code = Field("", max_length=CODE_LENGTH)
    arrived_at: datetime | None = None
    entered_cold_store_at: datetime | None = None


class VvmReading(Frozen):
    lot_number: Code = Field(max_length=CODE_LENGTH)
    stage: int = Field(ge=1, le=4, description="stage 3 or 4: past the discard point")


class ProblemBox(Frozen):
    box_number: Code = Field(max_length=CODE_LENGTH)
    alarm: LoggerAlarm
    vvm: tuple[VvmReading, ...] = Field((), max_length=MAX_LINES)
    note: Text = Field("", max_length=NAME_LENGTH)


class ShippingIndicators(Frozen):
    """VAR part V: boxes inspected, coolant, and each box with a problem."""

    boxes_inspected: int = Field(0, ge=0, le=MAX_BOXES)
    coolant: Coolant | None = None
    problem_boxes: tuple[ProblemBox, ...] = Field((), max_length=MAX_LINES)


class GeneralCondition(Frozen):
    """VAR part VI: the condition of the boxes and their labels, and comments."""

    boxes_condition: Text = Field("", max_length=NAME_LENGTH)
    labels_correct: bool | None = None
    comments: FreeText = Field("", max_length=REMARKS_LENGTH)


@registry.register
class ArrivalReportFiled(DomainEvent):
    """The Vaccine Arrival Report (VAR) for one vaccine line of one arrival part.

    Due within 3 days of the part's arrival. Intake may add the form's sections as fields
    with defaults; the fields below are what other services read."""

    event_type = "aidport.intake.ArrivalReportFiled.v1"

    part_no: int = Field(ge=1, le=MAX_PARTS)
    line_no: int = Field(ge=1, le=MAX_LINES)
    filed_at: datetime
    inspected_by: Text = Field(max_length=NAME_LENGTH)
    ratified_by: Text = Field("", max_length=NAME_LENGTH)
    advance_notice: AdvanceNotice = AdvanceNotice()
    flight_arrival: FlightArrival = FlightArrival()
    shipping_indicators: ShippingIndicators = ShippingIndicators()
    general_condition: GeneralCondition = GeneralCondition()
    filed_by: Code = Field("", max_length=USER_LENGTH)


@registry.register
class ShipmentAmended(DomainEvent):
    """The announcement corrected before arrival: the full announcement as it now stands."""

    event_type = "aidport.intake.ShipmentAmended.v1"

    reason: FreeText = Field(min_length=1, max_length=REMARKS_LENGTH)
    amended_by: Code = Field(max_length=USER_LENGTH)
    amended_at: datetime
    donor: Text = Field(max_length=NAME_LENGTH)
    channel: Channel
    flight: Code = Field(max_length=CODE_LENGTH)
    airway_bill: Code = Field(max_length=CODE_LENGTH)
    expected_arrival: datetime
    consignee: Text = Field(max_length=NAME_LENGTH)
    lines: tuple[LineItem, ...] = Field(max_length=MAX_LINES)
    priority: Priority | None = Field(None, description="None: the priority is unchanged")


@registry.register
class ShipmentCancelled(DomainEvent):
    """Cancelled before arrival: nothing will come, downstream closes its side."""

    event_type = "aidport.intake.ShipmentCancelled.v1"

    reason: FreeText = Field(min_length=1, max_length=REMARKS_LENGTH)
    cancelled_by: Code = Field(max_length=USER_LENGTH)
    cancelled_at: datetime


@registry.register
class ShipmentClosed(DomainEvent):
    """Every part has arrived. ``accepted`` sums the accepted units of all parts per line
    (with their lots); when it is empty the consignment closes with nothing to clear."""

    event_type = "aidport.intake.ShipmentClosed.v1"

    closed_by: Code = Field(max_length=USER_LENGTH)
    closed_at: datetime
    accepted: tuple[LineItem, ...] = Field(max_length=MAX_LINES)
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)
    discrepancies: tuple[Discrepancy, ...] = Field(
        (), max_length=MAX_RECEIVED, description="short shipments found when closing"
    )

    @property
    def nothing_to_clear(self) -> bool:
        return not any(line.quantity for line in self.accepted)
