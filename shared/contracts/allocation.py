"""Events published by the allocation service on ``aidport.allocation.events``."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.contracts.base import DomainEvent, registry
from shared.contracts.values import Frozen, Lot, Unit


class RecipientShare(Frozen):
    recipient_code: str
    quantity: int = Field(ge=0)
    packs: int = Field(ge=0)


class LineAllocation(Frozen):
    line_no: int
    product: str
    unit: Unit
    pack_size: int
    cleared_quantity: int
    shares: tuple[RecipientShare, ...]
    reserve_quantity: int = Field(ge=0, description="kept in the national reserve, explicitly")
    reserve_lots: tuple[Lot, ...] = Field(
        default=(), description="the lots that make up the reserve (the latest-expiring)"
    )


@registry.register
class AllocationRoundDecided(DomainEvent):
    event_type = "aidport.allocation.AllocationRoundDecided.v1"

    round_id: str
    policy: str
    decided_at: datetime
    lines: tuple[LineAllocation, ...]


@registry.register
class AllocatedToProvince(DomainEvent):
    event_type = "aidport.allocation.AllocatedToProvince.v1"

    notice_number: str
    round_id: str
    province_code: str
    line_no: int
    product: str
    unit: Unit
    pack_size: int
    quantity: int = Field(ge=1)
    packs: int = Field(ge=1)
    lots: tuple[Lot, ...]


@registry.register
class NoticeAcknowledged(DomainEvent):
    event_type = "aidport.allocation.NoticeAcknowledged.v1"

    notice_number: str
    province_code: str
    acknowledged_at: datetime
