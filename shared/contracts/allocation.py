"""Events published by the allocation service on ``aidport.allocation.events``."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from shared.contracts.base import DomainEvent, JsonDict, registry
from shared.contracts.limits import (
    MAX_LINES,
    MAX_LOTS_PER_LINE,
    MAX_QUANTITY,
    NAME_LENGTH,
    REMARKS_LENGTH,
    Code,
    FreeText,
    PackSize,
    Quantity,
    Text,
)
from shared.contracts.values import CountedLot, Frozen, Lot, Storage, Unit

USER_LENGTH = 64
RECIPIENT = Field(max_length=16, description="a province code or a national recipient's code")
NOTICE_NUMBER = Field(max_length=96, description="the round id, recipient, line")

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
    released_at: datetime | None = Field(
        None, description="when customs released the goods: the 7-day target counts from it"
    )
    decision_number: Text = Field("", max_length=64, description="the approving decision")


@registry.register
class NoticeAcknowledged(DomainEvent):
    event_type = "aidport.allocation.NoticeAcknowledged.v1"

    notice_number: Code = Field(max_length=96)
    province_code: Code = Field(max_length=16)
    acknowledged_at: datetime


class RoundSource(StrEnum):
    FAST_TRACK = "fast_track"  # ClearedFastTrack
    RELEASE = "release"  # GoodsReleased, full or partial
    RESERVE = "reserve"  # a release from the national reserve


class ShareBasis(StrEnum):
    """Why a recipient gets its line: the reasoning shown to the reviewer."""

    QUOTA = "quota"  # a national recipient's fixed quota
    EARMARK = "earmark"  # the donor earmarked it
    SHARE = "share"  # weighted share of what is left
    CAP = "cap"  # a share cut to the recipient's remaining need
    ADJUSTED = "adjusted"  # changed by an officer, with a reason


class DraftShare(Frozen):
    recipient_code: Code = RECIPIENT
    quantity: Quantity
    packs: int = Field(ge=0, le=MAX_QUANTITY)
    basis: ShareBasis
    reasoning: Text = Field("", max_length=NAME_LENGTH)
    lots: tuple[Lot, ...] = Field((), max_length=MAX_LOTS_PER_LINE)


class DraftLine(Frozen):
    line_no: int
    product: Text = Field(max_length=NAME_LENGTH)
    unit: Unit
    packaging_level: Code = Field(max_length=32, description="e.g. shipper_carton, vial, pack")
    pack_size: PackSize
    released_quantity: Quantity
    shares: tuple[DraftShare, ...]
    reserve_quantity: Quantity
    reserve_lots: tuple[Lot, ...] = Field((), max_length=MAX_LOTS_PER_LINE)
    storage: Storage | None = Field(None, description="for the cold-chain rule on adjustments")


class QuantityChange(Frozen):
    """A recipient's new quantity on one line; the reserve is recipient ``reserve``."""

    line_no: int
    recipient_code: Code = RECIPIENT
    quantity: Quantity


@registry.register
class AllocationRoundDrafted(DomainEvent):
    """A proposed round for one release, under a named policy version. Nothing is sent to
    a province until the round is approved."""

    event_type = "aidport.allocation.AllocationRoundDrafted.v1"

    round_id: Code = ROUND_ID
    source: RoundSource
    release_no: int | None = None
    policy_id: Code = Field(max_length=64)
    policy_version: int = Field(ge=1)
    automatic_approval: bool = False
    use_by: date | None = None
    drafted_at: datetime
    lines: tuple[DraftLine, ...] = Field(max_length=MAX_LINES)
    released_at: datetime | None = Field(None, description="when customs released the goods")
    drafted_by: Code = Field(
        "", max_length=USER_LENGTH, description="who asked for it (a reserve release); four-eyes"
    )
    donor: Text = Field("", max_length=NAME_LENGTH)

    def to_data(self) -> JsonDict:
        """Without the fields left at their defaults (an empty reasoning, no lots): the
        largest consignment's draft then stays under the store's event limit."""
        return self.model_dump(mode="json", exclude_defaults=True)


@registry.register
class RoundAdjusted(DomainEvent):
    """An allocation officer moved quantities, conserving each line's total."""

    event_type = "aidport.allocation.RoundAdjusted.v1"

    round_id: Code = ROUND_ID
    changes: tuple[QuantityChange, ...] = Field(max_length=MAX_LINES * 64)
    reason: FreeText = Field(min_length=1, max_length=REMARKS_LENGTH)
    adjusted_by: Code = Field(max_length=USER_LENGTH)
    adjusted_at: datetime


@registry.register
class RoundApproved(DomainEvent):
    """The signed decision. ``automatic`` when a policy approved it on its own (emergency
    mode): then ``approved_by`` reads "automatic under policy X vN"."""

    event_type = "aidport.allocation.RoundApproved.v1"

    round_id: Code = ROUND_ID
    decision_number: Text = Field(max_length=64)  # e.g. 3400/QĐ-BYT
    decision_date: date
    approved_by: Text = Field(max_length=NAME_LENGTH)
    approved_at: datetime
    automatic: bool = False
    policy_id: Code = Field(max_length=64)
    policy_version: int = Field(ge=1)


@registry.register
class RoundAmended(DomainEvent):
    """A new decision moving quantities between recipients of an approved round, before
    dispatch."""

    event_type = "aidport.allocation.RoundAmended.v1"

    round_id: Code = ROUND_ID
    decision_number: Text = Field(max_length=64)
    decision_date: date
    changes: tuple[QuantityChange, ...] = Field(max_length=MAX_LINES * 64)
    reason: FreeText = Field(min_length=1, max_length=REMARKS_LENGTH)
    amended_by: Code = Field(max_length=USER_LENGTH)
    amended_at: datetime


@registry.register
class NoticeAmended(DomainEvent):
    """A notice's quantity changed by an amendment decision (zero withdraws it)."""

    event_type = "aidport.allocation.NoticeAmended.v1"

    notice_number: Code = NOTICE_NUMBER
    round_id: Code = ROUND_ID
    province_code: Code = RECIPIENT
    decision_number: Text = Field(max_length=64)
    quantity: Quantity
    packs: int = Field(ge=0, le=MAX_QUANTITY)
    lots: tuple[Lot, ...] = Field(max_length=MAX_LOTS_PER_LINE)
    amended_at: datetime


@registry.register
class NoticeDispatched(DomainEvent):
    """The national store sent the goods of one notice."""

    event_type = "aidport.allocation.NoticeDispatched.v1"

    notice_number: Code = NOTICE_NUMBER
    province_code: Code = RECIPIENT
    lots: tuple[Lot, ...] = Field(max_length=MAX_LOTS_PER_LINE)
    carrier: Text = Field(max_length=NAME_LENGTH)
    dispatched_by: Code = Field(max_length=USER_LENGTH)
    dispatched_at: datetime


@registry.register
class NoticeReceived(DomainEvent):
    """Proof of delivery: per lot, counted is what was dispatched, and accepted + rejected
    = dispatched. ``with_discrepancies`` when anything was rejected."""

    event_type = "aidport.allocation.NoticeReceived.v1"

    notice_number: Code = NOTICE_NUMBER
    province_code: Code = RECIPIENT
    lots: tuple[CountedLot, ...] = Field(max_length=MAX_LOTS_PER_LINE)
    with_discrepancies: bool
    received_by: Code = Field(max_length=USER_LENGTH)
    received_at: datetime
