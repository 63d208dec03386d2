"""A notice's lifecycle: dispatch, proof of delivery per lot, amendments; statuses only move
forward, and per lot accepted + rejected = dispatched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.allocation.commands import draft_for
from services.allocation.delivery_api import ReceivedLotIn
from services.allocation.domain import (
    AcknowledgeNotice,
    ConsignmentAllocation,
    decider,
    notice_number_for,
    round_id_for,
)
from services.allocation.domain.notices import DispatchNotice, ReceiveNotice
from services.allocation.domain.state import ORDER, NoticeStatus
from shared.contracts.allocation import (
    AllocatedToProvince,
    NoticeAmended,
    NoticeDispatched,
    NoticeReceived,
)
from shared.contracts.base import DomainEvent
from shared.contracts.values import CountedLot, Lot, Rejection, RejectionReason
from shared.decider import DomainError, InvalidInput, NotFound, NotPermitted, StateConflict
from tests.unit.builders import NOW, SHIPMENT, cleared, line, lot

LINE = line(1, 811_200, lots=(lot("A1", 120_000), lot("A2", 691_200, days=300)))
NUMBER = notice_number_for(round_id_for(SHIPMENT), "01", 1)


def allocated() -> tuple[ConsignmentAllocation, AllocatedToProvince]:
    command = draft_for(cleared((LINE,)), NOW)  # the fast track: approved automatically
    events = decider.decide(command, ConsignmentAllocation())
    notice = next(
        e for e in events if isinstance(e, AllocatedToProvince) and e.notice_number == NUMBER
    )
    return decider.fold(events), notice


def apply(state: ConsignmentAllocation, events: list[DomainEvent]) -> ConsignmentAllocation:
    for event in events:
        state = decider.evolve(state, event)
    return state


def dispatch(lots: tuple[Lot, ...] = (), province: str = "01") -> DispatchNotice:
    return DispatchNotice(NUMBER, province, lots, "VNPost cold truck", "store.nepi", NOW)


def counted(dispatched: tuple[Lot, ...], short: int = 0) -> tuple[CountedLot, ...]:
    first, *rest = dispatched
    rejections = (Rejection(reason=RejectionReason.SHORT, quantity=short),) if short else ()
    return (
        CountedLot(
            line_no=1,
            lot_number=first.lot_number,
            counted=first.quantity,
            accepted=first.quantity - short,
            rejections=rejections,
        ),
        *(
            CountedLot(line_no=1, lot_number=x.lot_number, counted=x.quantity, accepted=x.quantity)
            for x in rest
        ),
    )


def receive(lots: tuple[CountedLot, ...], province: str = "01") -> ReceiveNotice:
    return ReceiveNotice(NUMBER, province, lots, "province-01", NOW + timedelta(days=3))


def test_the_fast_track_notice_carries_its_release_time() -> None:
    _, notice = allocated()
    assert notice.released_at == NOW and notice.decision_number.startswith("AUTO ")


def test_dispatch_without_lots_sends_the_notices_lots() -> None:
    state, notice = allocated()
    [event] = decider.decide(dispatch(), state)
    assert isinstance(event, NoticeDispatched)
    assert event.lots == notice.lots and event.carrier == "VNPost cold truck"
    assert apply(state, [event]).notices[NUMBER].status is NoticeStatus.DISPATCHED


def test_a_dispatch_twice_is_a_conflict() -> None:
    state, _ = allocated()
    state = apply(state, decider.decide(dispatch(), state))
    with pytest.raises(StateConflict) as refused:
        decider.decide(dispatch(), state)
    assert refused.value.code == "already-dispatched"


def test_dispatched_lots_must_hold_the_notices_quantity() -> None:
    state, notice = allocated()
    fewer = (notice.lots[0].model_copy(update={"quantity": notice.lots[0].quantity - 10}),)
    with pytest.raises(InvalidInput) as refused:
        decider.decide(dispatch(fewer + notice.lots[1:]), state)
    assert refused.value.code == "lots-do-not-add-up"
    stranger = (Lot(lot_number="ZZ9", expiry_date=NOW.date(), quantity=notice.quantity),)
    with pytest.raises(InvalidInput) as refused:
        decider.decide(dispatch(stranger), state)
    assert refused.value.code == "lot-not-allocated"


def test_receipt_before_dispatch_is_a_conflict() -> None:
    state, notice = allocated()
    with pytest.raises(StateConflict) as refused:
        decider.decide(receive(counted(notice.lots)), state)
    assert refused.value.code == "not-dispatched"


def test_a_receipt_with_a_shortfall_is_received_with_discrepancies() -> None:
    state, notice = allocated()
    state = apply(state, decider.decide(dispatch(), state))
    [event] = decider.decide(receive(counted(notice.lots, short=30)), state)
    assert isinstance(event, NoticeReceived) and event.with_discrepancies
    state = apply(state, [event])
    assert state.notices[NUMBER].status is NoticeStatus.RECEIVED_WITH_DISCREPANCIES
    with pytest.raises(StateConflict):
        decider.decide(receive(counted(notice.lots)), state)


def test_a_receipt_must_count_every_dispatched_lot_as_dispatched() -> None:
    state, notice = allocated()
    state = apply(state, decider.decide(dispatch(), state))
    with pytest.raises(InvalidInput) as refused:
        decider.decide(receive(counted(notice.lots)[:1]), state)
    assert refused.value.code == "lots-not-counted"
    first = notice.lots[0]
    wrong = CountedLot(
        line_no=1,
        lot_number=first.lot_number,
        counted=first.quantity - 1,
        accepted=0,
        rejections=(Rejection(reason=RejectionReason.DAMAGED, quantity=first.quantity - 1),),
    )
    with pytest.raises(InvalidInput) as refused:
        decider.decide(receive((wrong, *counted(notice.lots)[1:])), state)
    assert refused.value.code == "counted-not-dispatched"
    vvm = CountedLot(
        line_no=1,
        lot_number=first.lot_number,
        counted=first.quantity,
        accepted=first.quantity - 1,
        rejections=(Rejection(reason=RejectionReason.VVM_DISCARD_POINT, quantity=1),),
    )
    with pytest.raises(InvalidInput) as refused:
        decider.decide(receive((vvm, *counted(notice.lots)[1:])), state)
    assert refused.value.code == "reason-not-for-receipt"


def test_another_province_cannot_receive_or_acknowledge_the_notice() -> None:
    state, notice = allocated()
    state = apply(state, decider.decide(dispatch(), state))
    with pytest.raises(NotPermitted):
        decider.decide(receive(counted(notice.lots), province="79"), state)
    with pytest.raises(NotPermitted):
        decider.decide(dispatch(province="79"), state)
    with pytest.raises(NotFound):
        decider.decide(
            AcknowledgeNotice(notice_number="R-X-01-9", province_code="01", now=NOW), state
        )


def amended(quantity: int, lots: tuple[Lot, ...]) -> NoticeAmended:
    return NoticeAmended(
        shipment_id=SHIPMENT,
        notice_number=NUMBER,
        round_id=round_id_for(SHIPMENT),
        province_code="01",
        decision_number="3401/QĐ-BYT",
        quantity=quantity,
        packs=quantity // 10,
        lots=lots,
        amended_at=NOW,
    )


def test_dispatch_uses_the_amended_figures() -> None:
    state, notice = allocated()
    smaller = (notice.lots[0].model_copy(update={"quantity": 1000}),)
    state = apply(state, [amended(1000, smaller)])
    with pytest.raises(InvalidInput):
        decider.decide(dispatch(notice.lots), state)
    [event] = decider.decide(dispatch(), state)
    assert isinstance(event, NoticeDispatched) and event.lots == smaller


def test_an_amendment_to_zero_withdraws_the_notice() -> None:
    state, _ = allocated()
    state = apply(state, [amended(0, ())])
    assert state.notices[NUMBER].status is NoticeStatus.WITHDRAWN
    with pytest.raises(StateConflict) as refused:
        decider.decide(dispatch(), state)
    assert refused.value.code == "notice-withdrawn"


# --- properties -----------------------------------------------------------------------------

STEPS = st.sampled_from(["ack", "dispatch", "receive", "short", "amend0", "amend"])


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(STEPS, max_size=8), short=st.integers(1, 500_000))
def test_statuses_only_move_forward(steps: list[str], short: int) -> None:
    state, notice = allocated()
    for step in steps:
        before = state.notices[NUMBER].status
        try:
            events = _step(step, state, notice, short)
        except DomainError:
            continue
        state = apply(state, events)
        after = state.notices[NUMBER].status
        assert ORDER[after] >= ORDER[before]
        for event in events:
            if isinstance(event, NoticeReceived):  # proof of delivery adds up per lot
                sent = state.notices[NUMBER].dispatched_lots
                dispatched = {x.lot_number: x.quantity for x in sent}
                for x in event.lots:
                    rejected = sum(r.quantity for r in x.rejections)
                    assert x.accepted + rejected == x.counted == dispatched[x.lot_number]


def _step(
    step: str, state: ConsignmentAllocation, notice: AllocatedToProvince, short: int
) -> list[DomainEvent]:
    current = state.notices[NUMBER]
    if step == "ack":
        return list(decider.decide(AcknowledgeNotice(NUMBER, "01", NOW), state))
    if step == "dispatch":
        return list(decider.decide(dispatch(), state))
    if step in ("receive", "short"):
        sent = current.dispatched_lots or current.lots  # before dispatch: refused, whatever it says
        if not sent:  # withdrawn
            return list(decider.decide(receive(()), state))
        lots = counted(sent, min(short, sent[0].quantity) if step == "short" else 0)
        return list(decider.decide(receive(lots), state))
    if current.status in (NoticeStatus.ISSUED, NoticeStatus.ACKNOWLEDGED):  # before dispatch
        quantity = 0 if step == "amend0" else 1000
        lots = () if step == "amend0" else (notice.lots[0].model_copy(update={"quantity": 1000}),)
        return [amended(quantity, lots)]
    return []


@settings(max_examples=100, deadline=None)
@given(
    shortfalls=st.lists(st.integers(0, 19_980), min_size=2, max_size=2),
    reasons=st.lists(
        st.sampled_from(
            [RejectionReason.SHORT, RejectionReason.DAMAGED, RejectionReason.TEMPERATURE_EXCURSION]
        ),
        min_size=2,
        max_size=2,
    ),
)
def test_accepted_plus_rejected_equals_dispatched_per_lot(
    shortfalls: list[int], reasons: list[RejectionReason]
) -> None:
    state, notice = allocated()
    state = apply(state, decider.decide(dispatch(), state))
    lots = tuple(
        CountedLot(
            line_no=1,
            lot_number=x.lot_number,
            counted=x.quantity,
            accepted=x.quantity - miss,
            rejections=(Rejection(reason=why, quantity=miss),) if miss else (),
        )
        for x, miss, why in zip(notice.lots, shortfalls, reasons, strict=True)
    )
    [event] = decider.decide(receive(lots), state)
    assert isinstance(event, NoticeReceived)
    assert event.with_discrepancies == any(shortfalls)
    for x, sent in zip(event.lots, notice.lots, strict=True):
        assert x.accepted + sum(r.quantity for r in x.rejections) == sent.quantity


RECEIPT = [RejectionReason.SHORT, RejectionReason.DAMAGED, RejectionReason.TEMPERATURE_EXCURSION]


@st.composite
def received_lot(draw: st.DrawFn, sent: Lot) -> CountedLot:
    """A lot counted on arrival: any of the receipt reasons, each once, within what was sent."""
    reasons = draw(st.lists(st.sampled_from(RECEIPT), unique=True, max_size=len(RECEIPT)))
    quantities = [draw(st.integers(1, sent.quantity // 4)) for _ in reasons]
    return CountedLot(
        line_no=1,
        lot_number=sent.lot_number,
        counted=sent.quantity,
        accepted=sent.quantity - sum(quantities),
        rejections=tuple(
            Rejection(reason=r, quantity=q) for r, q in zip(reasons, quantities, strict=True)
        ),
    )


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_several_reasons_on_a_lot_add_up_to_what_was_dispatched(data: st.DataObject) -> None:
    state, notice = allocated()
    state = apply(state, decider.decide(dispatch(), state))
    lots = tuple(data.draw(received_lot(sent)) for sent in notice.lots)
    [event] = decider.decide(receive(lots), state)
    assert isinstance(event, NoticeReceived) and event.lots == lots
    assert event.with_discrepancies == any(x.rejections for x in lots)
    for x, sent in zip(event.lots, notice.lots, strict=True):
        assert x.accepted + sum(r.quantity for r in x.rejections) == sent.quantity
    status = apply(state, [event]).notices[NUMBER].status
    assert (status is NoticeStatus.RECEIVED_WITH_DISCREPANCIES) == event.with_discrepancies


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_reason_given_twice_on_a_lot_is_refused_on_its_field(data: st.DataObject) -> None:
    state, notice = allocated()
    state = apply(state, decider.decide(dispatch(), state))
    lots = [data.draw(received_lot(sent)) for sent in notice.lots]
    index = data.draw(st.integers(0, len(lots) - 1))
    twice = data.draw(st.sampled_from(RECEIPT))
    lot_ = lots[index]
    rejections = [*lot_.rejections, Rejection(reason=twice, quantity=1)]
    if twice not in {r.reason for r in lot_.rejections}:
        rejections.append(Rejection(reason=twice, quantity=1))
    accepted = lot_.counted - sum(r.quantity for r in rejections)
    lots[index] = CountedLot.model_validate(
        lot_.model_dump() | {"accepted": accepted, "rejections": tuple(rejections)}
    )
    with pytest.raises(InvalidInput) as refused:
        decider.decide(receive(tuple(lots)), state)
    assert refused.value.code == "duplicate-reason"
    assert refused.value.field == f"lots/{index}/rejections/{len(rejections) - 1}/reason"


@settings(max_examples=100, deadline=None)
@given(
    counted_=st.integers(0, 10_000),
    accepted=st.integers(0, 10_000),
    rejected=st.lists(st.integers(1, 5_000), max_size=3),
)
def test_the_receipt_form_adds_up_or_is_refused(
    counted_: int, accepted: int, rejected: list[int]
) -> None:
    """The API's lot: accepted + the rejections = counted, else a message on the lot."""
    body = {
        "lot_number": "A1",
        "counted": counted_,
        "accepted": accepted,
        "rejections": [
            {"reason": r, "quantity": q} for r, q in zip(RECEIPT, rejected, strict=False)
        ],
    }
    adds_up = accepted + sum(rejected) == counted_
    try:
        ReceivedLotIn.model_validate(body)
    except ValidationError as error:
        assert not adds_up
        assert "must equal counted" in str(error)
    else:
        assert adds_up
