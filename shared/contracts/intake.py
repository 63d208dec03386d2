"""Events published by the intake service on ``aidport.intake.events``."""

from __future__ import annotations

from datetime import datetime

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
from shared.contracts.values import Channel, LineItem, ReceivedLot


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
