"""From draft to decision: a release is drafted and waits; an officer adjusts it, conserving;
another person approves it (four-eyes) and only then do notices go out; a new decision
amends it before dispatch; the national reserve is released in a round of its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.allocation.commands import (
    draft_for,
    recipient_codes,
    recipient_facts,
    ultra_cold_codes,
)
from services.allocation.domain import (
    AdjustRound,
    AmendRound,
    ApproveRound,
    Command,
    ConsignmentAllocation,
    ReleaseReserve,
    RoundStatus,
    decider,
    reserve_stock,
    round_id_for,
)
from services.allocation.policies.catalog import policy
from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDrafted,
    NoticeAmended,
    NoticeDispatched,
    QuantityChange,
    RoundAdjusted,
    RoundAmended,
    RoundApproved,
    RoundSource,
    ShareBasis,
)
from shared.contracts.base import DomainEvent
from shared.contracts.values import Storage
from shared.decider import DomainError, InvalidInput, NotPermitted, RuleBroken, StateConflict
from tests.unit.builders import NOW, SHIPMENT, line, lot, released

ROUND = round_id_for(SHIPMENT, 1)
DOSES = line(1, 811_205, lots=(lot("A1", 500_000), lot("A2", 311_205, days=300)))


def drafted_events() -> list[DomainEvent]:
    return list(decider.decide(draft_for(released((DOSES,)), NOW), ConsignmentAllocation()))


def state_after(*commands: Command) -> tuple[ConsignmentAllocation, list[DomainEvent]]:
    events = drafted_events()
    for command in commands:
        events += decider.decide(command, decider.fold(events))
    return decider.fold(events), events


def adjust(*changes: tuple[str, int], by: str = "allocation.moh") -> AdjustRound:
    return AdjustRound(
        ROUND,
        tuple(QuantityChange(line_no=1, recipient_code=c, quantity=q) for c, q in changes),
        "outbreak in Ha Noi",
        by,
        NOW,
        recipient_codes(),
    )


def approve(by: str = "approver.moh", number: str = "3400/QĐ-BYT") -> ApproveRound:
    return ApproveRound(ROUND, number, date(2021, 7, 12), by, NOW)


def amend(*changes: tuple[str, int]) -> AmendRound:
    return AmendRound(
        ROUND,
        "3401/QĐ-BYT",
        date(2021, 7, 14),
        tuple(QuantityChange(line_no=1, recipient_code=c, quantity=q) for c, q in changes),
        "Da Nang outbreak",
        "approver.moh",
        NOW,
        recipient_codes(),
    )


def refused(command: Command, state: ConsignmentAllocation) -> DomainError:
    with pytest.raises(DomainError) as error:
        decider.decide(command, state)
    return error.value


def share(state: ConsignmentAllocation, code: str) -> int:
    [line_] = state.rounds[ROUND].lines
    return next((s.quantity for s in line_.shares if s.recipient_code == code), 0)


def test_a_release_is_drafted_and_waits_for_approval() -> None:
    [drafted] = drafted_events()
    assert isinstance(drafted, AllocationRoundDrafted)
    assert drafted.round_id == ROUND and drafted.release_no == 1
    assert drafted.source is RoundSource.RELEASE and not drafted.automatic_approval
    state = decider.fold([drafted])
    assert state.rounds[ROUND].status is RoundStatus.DRAFTED and state.notices == {}


def test_an_adjustment_moves_quantities_conserving_the_line() -> None:
    before = decider.fold(drafted_events())
    hanoi, hcmc = share(before, "01"), share(before, "79")
    state, events = state_after(adjust(("01", hanoi + hcmc), ("79", 0)))
    [line_] = state.rounds[ROUND].lines
    assert sum(s.quantity for s in line_.shares) + line_.reserve_quantity == 811_205
    assert isinstance(events[-1], RoundAdjusted)
    moved = {s.recipient_code: s for s in line_.shares}
    assert moved["01"].basis is ShareBasis.ADJUSTED and moved["01"].reasoning
    assert sum(x.quantity for x in moved["01"].lots) == moved["01"].quantity
    assert (
        moved["79"].lots == ()
        and moved["48"].lots
        == before.rounds[ROUND]
        .lines[0]
        .shares[[s.recipient_code for s in before.rounds[ROUND].lines[0].shares].index("48")]
        .lots
    )  # who was not moved keeps its lots


def test_an_adjustment_that_does_not_conserve_is_refused() -> None:
    state = decider.fold(drafted_events())
    error = refused(adjust(("01", share(state, "01") + 10)), state)
    assert isinstance(error, InvalidInput) and error.code == "not-conserved"
    error = refused(adjust(("01", share(state, "01") + 5), ("reserve", 0)), state)
    assert isinstance(error, InvalidInput)  # 5 doses are not whole vials of 10
    error = refused(adjust(("XX", 10), ("reserve", 0)), state)
    assert isinstance(error, InvalidInput) and error.code == "recipient-not-found"


def test_approval_sends_the_notices_with_the_decision() -> None:
    state, events = state_after(approve())
    approval, *notices = events[1:]
    assert isinstance(approval, RoundApproved) and not approval.automatic
    assert approval.decision_number == "3400/QĐ-BYT" and approval.approved_by == "approver.moh"
    assert len(notices) == 34
    assert all(isinstance(n, AllocatedToProvince) for n in notices)
    assert {n.decision_number for n in notices if isinstance(n, AllocatedToProvince)} == {
        "3400/QĐ-BYT"
    }
    assert state.rounds[ROUND].status is RoundStatus.APPROVED
    assert decider.decide(approve(), state) == []  # a retry
    assert isinstance(refused(approve(number="9/QĐ-BYT"), state), StateConflict)
    assert isinstance(refused(adjust(("reserve", 5)), state), StateConflict)


def test_who_adjusted_may_not_approve() -> None:
    state = decider.fold(drafted_events())
    hanoi = share(state, "01")
    state, _ = state_after(adjust(("01", hanoi - 10), ("reserve", 15), by="approver.moh"))
    error = refused(approve(by="approver.moh"), state)
    assert isinstance(error, NotPermitted) and error.code == "four-eyes"
    assert decider.decide(approve(by="other.approver"), state)


def test_an_amendment_moves_quantities_and_tells_the_recipients() -> None:
    state = decider.fold(drafted_events())
    hanoi, danang = share(state, "01"), share(state, "48")
    state, events = state_after(approve(), amend(("01", hanoi - 1000), ("48", danang + 1000)))
    amended = events[-3:]
    assert isinstance(amended[0], RoundAmended)
    changed = {e.province_code: e for e in amended if isinstance(e, NoticeAmended)}
    assert set(changed) == {"01", "48"}  # nobody else's notice changes
    assert changed["01"].quantity == hanoi - 1000 and changed["48"].quantity == danang + 1000
    assert changed["48"].decision_number == "3401/QĐ-BYT"
    assert share(state, "48") == danang + 1000


def test_no_amendment_after_dispatch() -> None:
    state, events = state_after(approve())
    number = next(
        e.notice_number
        for e in events
        if isinstance(e, AllocatedToProvince) and e.province_code == "01"
    )
    dispatched = NoticeDispatched(
        shipment_id=SHIPMENT,
        notice_number=number,
        province_code="01",
        lots=(),
        carrier="VNPost",
        dispatched_by="store.nepi",
        dispatched_at=NOW,
    )
    state = decider.evolve(state, dispatched)
    hanoi = share(state, "01")
    error = refused(amend(("01", hanoi - 10), ("reserve", 15)), state)
    assert isinstance(error, StateConflict) and error.code == "notice-dispatched"


def release(quantity: int, by: str = "allocation.moh") -> ReleaseReserve:
    return ReleaseReserve(
        shipment_id=SHIPMENT,
        quantities={1: quantity},
        policy=policy("population-share"),
        recipients=recipient_facts(),
        received={},
        by=by,
        now=NOW,
    )


def test_the_reserve_is_held_as_lots_and_released_in_a_round_of_its_own() -> None:
    state, _ = state_after(
        adjust(("79", 0), ("reserve", share(decider.fold(drafted_events()), "79") + 5))
    )
    assert reserve_stock(state) == {}  # nothing is held before approval
    state, events = state_after(
        adjust(("79", 0), ("reserve", share(decider.fold(drafted_events()), "79") + 5)),
        approve(by="approver.moh"),
        release(10_000),
    )
    drafted = events[-1]
    assert isinstance(drafted, AllocationRoundDrafted) and drafted.source is RoundSource.RESERVE
    assert drafted.round_id == f"{round_id_for(SHIPMENT)}-RES1" and drafted.drafted_by
    [line_] = drafted.lines
    assert line_.released_quantity == 10_000
    assert sum(s.quantity for s in line_.shares) + line_.reserve_quantity == 10_000
    held = sum(x.quantity for x in reserve_stock(state)[1])
    assert held == share(decider.fold(drafted_events()), "79") + 5 - 10_000
    error = refused(release(held + 1), state)
    assert isinstance(error, RuleBroken) and error.code == "reserve-short"
    requester = ApproveRound(drafted.round_id, "9/QĐ-BYT", date(2021, 8, 1), "allocation.moh", NOW)
    assert isinstance(refused(requester, state), NotPermitted)  # who asked does not approve


def test_ultra_cold_goes_only_where_it_can_be_kept() -> None:
    pfizer = line(
        1, 60_000, lots=(lot("P1", 60_000),), pack_size=6, storage=Storage.ULTRA_COLD_90_60
    )
    drafted = decider.decide(draft_for(released((pfizer,)), NOW), ConsignmentAllocation())
    state = decider.fold(drafted)
    [line_] = state.rounds[ROUND].lines
    assert {s.recipient_code for s in line_.shares if s.quantity} <= {"01", "56", "66", "79"}
    hanoi = next(s.quantity for s in line_.shares if s.recipient_code == "01")
    to_hue = AdjustRound(
        ROUND,
        (
            QuantityChange(line_no=1, recipient_code="01", quantity=hanoi - 600),
            QuantityChange(line_no=1, recipient_code="46", quantity=600),
        ),
        "Hue outbreak",
        "allocation.moh",
        NOW,
        recipient_codes(),
        ultra_cold_codes(),
    )
    error = refused(to_hue, state)
    assert isinstance(error, RuleBroken) and error.code == "no-ultra-cold"
    to_nepi = replace(
        to_hue,
        changes=(
            to_hue.changes[0],
            to_hue.changes[1].model_copy(update={"recipient_code": "NEPI"}),
        ),
    )
    assert decider.decide(to_nepi, state)
