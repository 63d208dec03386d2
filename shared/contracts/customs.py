"""Events published by the customs service on ``aidport.customs.events``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from shared.contracts.base import DomainEvent, registry
from shared.contracts.values import Channel, LineItem, ReceivedLot


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

    airport: str
    donor: str
    channel: Channel
    airway_bill: str
    expected_arrival: datetime
    lines: tuple[LineItem, ...]


@registry.register
class GoodsPresented(DomainEvent):
    """The consignment has landed and is presented to customs with what was received."""

    event_type = "aidport.customs.GoodsPresented.v1"

    arrived_at: datetime
    received: tuple[ReceivedLot, ...]


@registry.register
class ClearedFastTrack(DomainEvent):
    event_type = "aidport.customs.ClearedFastTrack.v1"

    airport: str
    donor: str
    declaration_number: str
    lane: Lane
    examination: Examination
    remarks: str = ""
    cleared_at: datetime
    lines: tuple[LineItem, ...]
