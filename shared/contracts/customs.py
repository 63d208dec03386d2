"""Events published by the customs service on ``aidport.customs.events``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

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
