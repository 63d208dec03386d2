"""A notice's life: issued on approval (one per recipient and line), then acknowledged,
amended, dispatched, received. Pure rules.

Statuses only move forward: issued -> acknowledged -> dispatched -> received or
received with discrepancies; an amendment to zero withdraws a notice before dispatch. The
receipt is a proof of delivery in the sense of OpenLMIS: per lot, counted = dispatched and
accepted + the rejections = counted, with several rejections per lot (e.g. 10 short and 5
damaged), each reason once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from uuid import UUID

from services.allocation.domain.state import ORDER, ConsignmentAllocation, Notice, NoticeStatus
from shared.contracts.allocation import (
    AllocatedToProvince,
    NoticeAcknowledged,
    NoticeAmended,
    NoticeDispatched,
    NoticeReceived,
)
from shared.contracts.base import DomainEvent
from shared.contracts.values import CountedLot, Lot, RejectionReason
from shared.decider import InvalidInput, NotFound, NotPermitted, StateConflict

SEVEN_DAYS_SECONDS = 7 * 24 * 3600  # the 2021 target from release to the province's store
RECEIPT_REASONS = frozenset(
    {RejectionReason.SHORT, RejectionReason.DAMAGED, RejectionReason.TEMPERATURE_EXCURSION}
)


def notice_number_for(round_id: str, province_code: str, line_no: int) -> str:
    return f"{round_id}-{province_code}-{line_no}"


@dataclass(frozen=True)
class AcknowledgeNotice:
    notice_number: str
    province_code: str
    now: datetime


@dataclass(frozen=True)
class DispatchNotice:
    notice_number: str
    province_code: str
    lots: tuple[Lot, ...]  # empty: the notice's own lots
    carrier: str
    dispatched_by: str
    now: datetime


@dataclass(frozen=True)
class ReceiveNotice:
    notice_number: str
    province_code: str
    lots: tuple[CountedLot, ...]
    received_by: str
    now: datetime


# --- evolve ---------------------------------------------------------------------------------


def evolve_notices(state: ConsignmentAllocation, event: DomainEvent) -> ConsignmentAllocation:
    """The consignment after a notice's event (any event carrying a ``notice_number``)."""
    number = getattr(event, "notice_number", None)
    if not isinstance(number, str):
        return state
    notice = evolve_notice(state.notices.get(number), event)
    if notice is None:
        return state
    return replace(state, notices=MappingProxyType({**state.notices, number: notice}))


def evolve_notice(notice: Notice | None, event: DomainEvent) -> Notice | None:
    """The notice after one of its events (None when the event is not a notice's)."""
    match event:
        case AllocatedToProvince():
            return Notice(event.province_code, event.line_no, event.quantity, event.lots)
        case NoticeAmended():
            return _amended(notice, event)
        case NoticeAcknowledged() if notice is not None:
            return _forward(notice, NoticeStatus.ACKNOWLEDGED)
        case NoticeDispatched() if notice is not None:
            return replace(_forward(notice, NoticeStatus.DISPATCHED), dispatched_lots=event.lots)
        case NoticeReceived() if notice is not None:
            status = (
                NoticeStatus.RECEIVED_WITH_DISCREPANCIES
                if event.with_discrepancies
                else NoticeStatus.RECEIVED
            )
            return _forward(notice, status)
    return notice


def _forward(notice: Notice, status: NoticeStatus) -> Notice:
    """Never backwards: a late acknowledgement leaves a dispatched notice dispatched."""
    return replace(notice, status=status) if ORDER[status] > ORDER[notice.status] else notice


def _amended(notice: Notice | None, event: NoticeAmended) -> Notice:
    base = notice or Notice(event.province_code, _line_of(event.notice_number))
    before_dispatch = not base.dispatched
    if event.quantity == 0 and before_dispatch:
        status = NoticeStatus.WITHDRAWN
    elif base.status is NoticeStatus.WITHDRAWN:  # amended back from zero: issued again
        status = NoticeStatus.ISSUED
    else:
        status = base.status
    return replace(base, quantity=event.quantity, lots=event.lots, status=status)


def _line_of(notice_number: str) -> int:
    tail = notice_number.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


# --- decide ---------------------------------------------------------------------------------


def acknowledge(command: AcknowledgeNotice, state: ConsignmentAllocation) -> list[DomainEvent]:
    number, province_code, now = command.notice_number, command.province_code, command.now
    shipment_id = state.shipment_id
    notice = _addressed(state.notices, shipment_id, number, province_code)
    if notice.status is NoticeStatus.WITHDRAWN:
        raise StateConflict(f"notice {number} was withdrawn", code="notice-withdrawn")
    if notice.acknowledged:
        return []  # a retry, or the goods are already on their way
    assert shipment_id is not None
    return [
        NoticeAcknowledged(
            shipment_id=shipment_id,
            notice_number=number,
            province_code=province_code,
            acknowledged_at=now,
        )
    ]


def dispatch(command: DispatchNotice, state: ConsignmentAllocation) -> list[DomainEvent]:
    shipment_id = state.shipment_id
    notice = _addressed(state.notices, shipment_id, command.notice_number, command.province_code)
    _may_dispatch(notice, command.notice_number)
    lots = command.lots or notice.lots
    _check_dispatched_lots(notice, lots)
    assert shipment_id is not None
    return [
        NoticeDispatched(
            shipment_id=shipment_id,
            notice_number=command.notice_number,
            province_code=command.province_code,
            lots=lots,
            carrier=command.carrier,
            dispatched_by=command.dispatched_by,
            dispatched_at=command.now,
        )
    ]


def receive(command: ReceiveNotice, state: ConsignmentAllocation) -> list[DomainEvent]:
    shipment_id = state.shipment_id
    notice = _addressed(state.notices, shipment_id, command.notice_number, command.province_code)
    if notice.status in (NoticeStatus.RECEIVED, NoticeStatus.RECEIVED_WITH_DISCREPANCIES):
        raise StateConflict(
            f"notice {command.notice_number} was already received", code="already-received"
        )
    if notice.status is not NoticeStatus.DISPATCHED:
        raise StateConflict(
            f"notice {command.notice_number} has not been dispatched yet ({notice.status})",
            code="not-dispatched",
        )
    _check_counted_lots(notice, command.lots)
    assert shipment_id is not None
    return [
        NoticeReceived(
            shipment_id=shipment_id,
            notice_number=command.notice_number,
            province_code=command.province_code,
            lots=command.lots,
            with_discrepancies=any(lot.rejections for lot in command.lots),
            received_by=command.received_by,
            received_at=command.now,
        )
    ]


def _addressed(
    notices: Mapping[str, Notice], shipment_id: UUID | None, number: str, province_code: str
) -> Notice:
    notice = notices.get(number)
    if notice is None or shipment_id is None:
        raise NotFound(f"no notice {number}", field="notice_number", code="notice-not-found")
    if notice.province_code != province_code:
        raise NotPermitted(
            f"notice {number} is not addressed to province {province_code}",
            field="province_code",
            code="other-province",
        )
    return notice


def _may_dispatch(notice: Notice, number: str) -> None:
    if notice.status is NoticeStatus.WITHDRAWN:
        raise StateConflict(f"notice {number} was withdrawn by amendment", code="notice-withdrawn")
    if ORDER[notice.status] >= ORDER[NoticeStatus.DISPATCHED]:
        raise StateConflict(f"notice {number} was already dispatched", code="already-dispatched")


def _check_dispatched_lots(notice: Notice, lots: tuple[Lot, ...]) -> None:
    """What leaves the store is the notice's quantity (as amended), from lots it names."""
    if not lots:
        raise InvalidInput("name the lots dispatched", field="lots", code="lots-required")
    numbers = [lot.lot_number for lot in lots]
    if len(set(numbers)) != len(numbers):
        raise InvalidInput("a lot is listed twice", field="lots", code="duplicate-lot")
    allocated = {lot.lot_number: lot.quantity for lot in notice.lots}
    for index, lot in enumerate(lots):
        if allocated and lot.quantity > allocated.get(lot.lot_number, 0):
            raise InvalidInput(
                f"lot {lot.lot_number}: {lot.quantity} is more than the notice allocates"
                f" from it ({allocated.get(lot.lot_number, 0)})",
                field=f"lots/{index}/quantity",
                code="lot-not-allocated",
            )
    total = sum(lot.quantity for lot in lots)
    if total != notice.quantity:
        raise InvalidInput(
            f"the lots add up to {total}, the notice allocates {notice.quantity}",
            field="lots",
            code="lots-do-not-add-up",
        )


def _check_counted_lots(notice: Notice, counted: tuple[CountedLot, ...]) -> None:
    """Every dispatched lot once, counted as dispatched, rejected for a receipt reason."""
    dispatched = {lot.lot_number: lot.quantity for lot in notice.dispatched_lots}
    seen: set[str] = set()
    for index, lot in enumerate(counted):
        where = f"lots/{index}"
        if lot.lot_number not in dispatched:
            raise InvalidInput(
                f"lot {lot.lot_number} was not dispatched on this notice",
                field=f"{where}/lot_number",
                code="lot-not-dispatched",
            )
        if lot.lot_number in seen:
            raise InvalidInput("a lot is listed twice", field=where, code="duplicate-lot")
        seen.add(lot.lot_number)
        if lot.line_no != notice.line_no:
            raise InvalidInput(
                f"the notice is for line {notice.line_no}",
                field=f"{where}/line_no",
                code="wrong-line",
            )
        if lot.counted != dispatched[lot.lot_number]:
            raise InvalidInput(
                f"lot {lot.lot_number}: {dispatched[lot.lot_number]} were dispatched; record"
                " what did not arrive as a rejection with reason short",
                field=f"{where}/counted",
                code="counted-not-dispatched",
            )
        _check_rejections(lot, where)
    missing = sorted(set(dispatched) - seen)
    if missing:
        raise InvalidInput(
            f"lots dispatched but not counted: {', '.join(missing)}",
            field="lots",
            code="lots-not-counted",
        )


def _check_rejections(lot: CountedLot, where: str) -> None:
    """Each rejection for a receipt reason, each reason once (its quantities in one line)."""
    reasons: set[RejectionReason] = set()
    for index, rejection in enumerate(lot.rejections):
        field = f"{where}/rejections/{index}/reason"
        if rejection.reason not in RECEIPT_REASONS:
            raise InvalidInput(
                "a recipient rejects for short, damaged or temperature_excursion",
                field=field,
                code="reason-not-for-receipt",
            )
        if rejection.reason in reasons:
            raise InvalidInput(
                f"{rejection.reason} is given twice for lot {lot.lot_number}: give its total once",
                field=field,
                code="duplicate-reason",
            )
        reasons.add(rejection.reason)
