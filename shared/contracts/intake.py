"""Events published by the intake service on ``aidport.intake.events``."""

from __future__ import annotations

from datetime import datetime
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
from shared.contracts.values import Channel, CountedLot, Discrepancy, LineItem, ReceivedLot

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

    @property
    def nothing_to_clear(self) -> bool:
        return not any(line.quantity for line in self.accepted)
