"""Events published by the intake service on ``aidport.intake.events``."""

from __future__ import annotations

from datetime import datetime

from shared.contracts.base import DomainEvent, registry
from shared.contracts.values import Channel, LineItem, ReceivedLot


@registry.register
class ShipmentAnnounced(DomainEvent):
    event_type = "aidport.intake.ShipmentAnnounced.v1"

    donor: str
    channel: Channel
    airport: str
    flight: str
    airway_bill: str
    expected_arrival: datetime
    consignee: str
    lines: tuple[LineItem, ...]


@registry.register
class ShipmentArrived(DomainEvent):
    event_type = "aidport.intake.ShipmentArrived.v1"

    airport: str
    arrived_at: datetime
    received: tuple[ReceivedLot, ...]
    remarks: str = ""
