"""Events published by the allocation service on ``aidport.allocation.events``."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.contracts.base import DomainEvent, registry
from shared.contracts.limits import (
    MAX_LINES,
    MAX_LOTS_PER_LINE,
    MAX_QUANTITY,
    NAME_LENGTH,
    Code,
    PackSize,
    Quantity,
    Text,
)
from shared.contracts.values import Frozen, Lot, Unit

ROUND_ID = Field(
    max_length=64,
    description="'R-' and the 32 hex digits of the shipment id, one round per consignment."
    " Rounds decided by version 0.1 carry 8 hex digits only (those could collide).",
)


class RecipientShare(Frozen):
    recipient_code: Code = Field(max_length=16)
    quantity: Quantity
    packs: int = Field(ge=0, le=MAX_QUANTITY)


class LineAllocation(Frozen):
    line_no: int
    product: Text = Field(max_length=NAME_LENGTH)
    unit: Unit
    pack_size: PackSize
    cleared_quantity: Quantity
    shares: tuple[RecipientShare, ...]
    reserve_quantity: Quantity = Field(description="kept in the national reserve, explicitly")
    reserve_lots: tuple[Lot, ...] = Field(
        default=(),
        max_length=MAX_LOTS_PER_LINE,
        description="the lots that make up the reserve (the latest-expiring)",
    )


@registry.register
class AllocationRoundDecided(DomainEvent):
    event_type = "aidport.allocation.AllocationRoundDecided.v1"

    round_id: Code = ROUND_ID
    policy: Text
    decided_at: datetime
    lines: tuple[LineAllocation, ...] = Field(max_length=MAX_LINES)


@registry.register
class AllocatedToProvince(DomainEvent):
    event_type = "aidport.allocation.AllocatedToProvince.v1"

    notice_number: Code = Field(max_length=96, description="the round id, province, line")
    round_id: Code = ROUND_ID
    province_code: Code = Field(max_length=16)
    line_no: int
    product: Text = Field(max_length=NAME_LENGTH)
    unit: Unit
    pack_size: PackSize
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    packs: int = Field(ge=1, le=MAX_QUANTITY)
    lots: tuple[Lot, ...] = Field(max_length=MAX_LOTS_PER_LINE)


@registry.register
class NoticeAcknowledged(DomainEvent):
    event_type = "aidport.allocation.NoticeAcknowledged.v1"

    notice_number: Code = Field(max_length=96)
    province_code: Code = Field(max_length=16)
    acknowledged_at: datetime
