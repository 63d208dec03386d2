"""Allocation rules: a draft per release, automatic approval on the fast track, notices per
recipient and line only on approval, acknowledgements."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.allocation.commands import draft_for
from services.allocation.domain import (
    AcknowledgeNotice,
    ConsignmentAllocation,
    DraftRound,
    RoundStatus,
    decider,
)
from services.allocation.policies.engine import RecipientFacts
from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDecided,
    AllocationRoundDrafted,
    LineAllocation,
    NoticeAcknowledged,
    RecipientShare,
    RoundApproved,
    RoundSource,
)
from shared.contracts.base import DomainEvent
from shared.contracts.values import Category, LineItem, Unit
from shared.decider import DomainError, InvalidInput, NotFound, NotPermitted
from shared.reference_data import provinces
from tests.unit.builders import NOW, SHIPMENT, cleared, line, lot

ASTRAZENECA = line(1, 811_205, lots=(lot("A1", 500_000), lot("A2", 311_205, days=300)))
MASKS = line(2, 1_000_000, lots=(), category=Category.MEDICAL_SUPPLY, unit=Unit.PIECES)


def fast_track(*lines: LineItem, shipment: uuid.UUID = SHIPMENT) -> DraftRound:
    return draft_for(cleared(lines or (ASTRAZENECA,), shipment_id=shipment), NOW)


def decide_round(*lines: LineItem) -> list[DomainEvent]:
    return list(decider.decide(fast_track(*lines), ConsignmentAllocation()))


def split(
    events: list[DomainEvent],
) -> tuple[AllocationRoundDrafted, RoundApproved, list[AllocatedToProvince]]:
    drafted, approved, *notices = events
    assert isinstance(drafted, AllocationRoundDrafted) and isinstance(approved, RoundApproved)
    assert all(isinstance(n, AllocatedToProvince) for n in notices)
    return drafted, approved, [n for n in notices if isinstance(n, AllocatedToProvince)]


def refusal(command: DraftRound | AcknowledgeNotice, state: ConsignmentAllocation) -> DomainError:
    with pytest.raises(DomainError) as refused:
        decider.decide(command, state)
    assert refused.value.detail
    return refused.value


# --- reference data -------------------------------------------------------------------------


def test_the_34_provinces_come_from_the_reference_table() -> None:
    table = provinces()
    codes = [p.code for p in table]
    assert len(table) == 34 and codes == sorted(set(codes))
    assert all(p.population_scale > 0 and p.kind in {"city", "province"} for p in table)
    hcmc = max(table, key=lambda p: p.population_scale)
    assert (hcmc.code, hcmc.name_en, hcmc.kind) == ("79", "Ho Chi Minh City", "city")


# --- the fast track: drafted and approved at once (emergency mode) --------------------------


def test_fast_track_relief_is_approved_automatically_under_the_default_policy() -> None:
    drafted, approved, notices = split(decide_round())
    assert drafted.source is RoundSource.FAST_TRACK and drafted.automatic_approval
    assert (drafted.policy_id, drafted.policy_version) == ("population-share", 2)
    assert (
        approved.automatic and approved.approved_by == "automatic under policy population-share v2"
    )
    assert all(n.decision_number == approved.decision_number for n in notices)
    assert all(n.released_at == NOW for n in notices)


def test_a_round_gives_every_province_whole_packs_and_keeps_the_rest_in_reserve() -> None:
    drafted, _, notices = split(decide_round())
    [summary] = drafted.lines
    assert len(notices) == 34
    assert sum(n.quantity for n in notices) + summary.reserve_quantity == 811_205
    assert summary.reserve_quantity == 5 and summary.released_quantity == 811_205
    assert all(n.quantity == n.packs * 10 and n.pack_size == 10 for n in notices)
    assert sorted((s.recipient_code, s.quantity) for s in summary.shares) == sorted(
        (n.province_code, n.quantity) for n in notices
    )
    assert all(s.basis.value == "share" for s in summary.shares)


def test_every_dose_keeps_its_lot() -> None:
    drafted, _, notices = split(decide_round())
    assert all(sum(x.quantity for x in n.lots) == n.quantity for n in notices)
    reserve_lots = drafted.lines[0].reserve_lots
    assert sum(x.quantity for x in reserve_lots) == drafted.lines[0].reserve_quantity
    per_lot = {"A1": 0, "A2": 0}
    for part in [*(x for n in notices for x in n.lots), *reserve_lots]:
        per_lot[part.lot_number] += part.quantity
    assert per_lot == {"A1": 500_000, "A2": 311_205}
    hcmc = next(n for n in notices if n.province_code == "79")
    assert hcmc.lots[0].lot_number == "A1"  # the largest share gets the earliest expiry


def test_round_and_notice_numbers_are_readable_and_stable() -> None:
    shipment = uuid.UUID("abcdef12-3456-4789-8abc-def012345678")
    command = fast_track(shipment=shipment)
    drafted, _, notices = split(list(decider.decide(command, ConsignmentAllocation())))
    round_id = "R-ABCDEF12345647898ABCDEF012345678"
    assert drafted.round_id == round_id
    hanoi = next(n for n in notices if n.province_code == "01")
    assert hanoi.notice_number == f"{round_id}-01-1" and hanoi.round_id == round_id
    assert list(decider.decide(command, ConsignmentAllocation()))[2:] == notices


def test_one_notice_per_province_and_line() -> None:
    drafted, _, notices = split(decide_round(ASTRAZENECA, MASKS))
    assert [x.line_no for x in drafted.lines] == [1, 2]
    assert len(notices) == 68 and len({n.notice_number for n in notices}) == 68
    masks = [n for n in notices if n.line_no == 2]
    assert all(n.lots == () and n.unit is Unit.PIECES for n in masks)
    assert drafted.lines[1].reserve_lots == ()


def test_provinces_whose_share_is_zero_get_no_notice() -> None:
    few = line(1, 35, lots=(lot("A1", 35),))  # 3 packs of 10 and 5 loose doses
    drafted, _, notices = split(decide_round(few))
    assert sorted(n.province_code for n in notices) == ["01", "79", "91"]  # the most populous
    assert drafted.lines[0].reserve_quantity == 5
    assert [(x.lot_number, x.quantity) for x in drafted.lines[0].reserve_lots] == [("A1", 5)]


def test_the_2021_moderna_round_adds_up_on_the_fast_track() -> None:
    moderna = line(1, 2_000_040, lots=(lot("MOD1", 1_000_020), lot("MOD2", 1_000_020)))
    moderna = moderna.model_copy(update={"pack_size": 14, "product": "Spikevax (Moderna)"})
    drafted, _, notices = split(decide_round(moderna))
    assert len(notices) == 34
    assert sum(n.quantity for n in notices) + drafted.lines[0].reserve_quantity == 2_000_040
    assert all(n.quantity % 14 == 0 for n in notices)


def test_any_set_of_recipients_with_weights_will_do() -> None:
    two = {"01": RecipientFacts(1, False), "79": RecipientFacts(3, False)}
    command = fast_track()
    command = DraftRound(**{**command.__dict__, "recipients": two})
    _, _, notices = split(list(decider.decide(command, ConsignmentAllocation())))
    assert {n.province_code: n.quantity for n in notices} == {"01": 202_800, "79": 608_400}


def test_with_no_recipients_everything_stays_in_reserve() -> None:
    command = DraftRound(**{**fast_track().__dict__, "recipients": {}})
    drafted, _, notices = split(list(decider.decide(command, ConsignmentAllocation())))
    assert notices == [] and drafted.lines[0].reserve_quantity == 811_205


def test_drafting_again_adds_nothing() -> None:
    state = decider.fold(decide_round())
    assert decider.decide(fast_track(), state) == []


def part_cleared(minutes: int, *lines: LineItem) -> DraftRound:
    """A fast-track clearance of one part of a split consignment, ``minutes`` after NOW."""
    clearance = cleared(lines or (ASTRAZENECA,)).model_copy(
        update={"cleared_at": NOW + timedelta(minutes=minutes)}
    )
    return draft_for(clearance, NOW)


def test_each_part_of_a_split_consignment_fast_tracked_gets_its_own_automatic_round() -> None:
    first = decide_round()
    second_part = line(1, 1_000, lots=(lot("A3", 1_000),))
    later = list(decider.decide(part_cleared(90, second_part), decider.fold(first)))
    drafted, approved, notices = split(later)
    base = split(first)[0].round_id
    assert drafted.round_id == approved.round_id == f"{base}-FT2" and approved.automatic
    assert sum(n.quantity for n in notices) + drafted.lines[0].reserve_quantity == 1_000
    state = decider.fold([*first, *later])
    assert decider.decide(part_cleared(90, second_part), state) == []  # delivered again
    assert decider.decide(fast_track(), state) == []


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=6))
def test_fast_track_clearances_delivered_any_number_of_times_allocate_each_once(
    moments: list[int],
) -> None:
    """Allocation never receives more than was released: a clearance delivered again adds
    nothing; every distinct clearance is allocated in full."""
    events: list[DomainEvent] = []
    for minutes in moments:
        events += decider.decide(part_cleared(minutes), decider.fold(events))
    rounds = decider.fold(events).rounds.values()
    assert len(rounds) == len(set(moments))
    assert all(r.lines[0].released_quantity == 811_205 for r in rounds)
    allocated = sum(n.quantity for n in events if isinstance(n, AllocatedToProvince))
    reserve = sum(r.lines[0].reserve_quantity for r in rounds)
    assert allocated + reserve == 811_205 * len(set(moments))


def test_a_released_line_whose_lots_do_not_add_up_is_refused() -> None:
    broken = ASTRAZENECA.model_copy(update={"quantity": 900_000})  # as if from a bad event
    refused = refusal(fast_track(broken), ConsignmentAllocation())
    assert isinstance(refused, InvalidInput) and refused.field == "released/lines/0/lots"


def test_a_round_decided_by_version_0_is_still_read() -> None:
    legacy = AllocationRoundDecided(
        shipment_id=SHIPMENT,
        round_id="R-00000000",
        policy="population-share/v1",
        decided_at=NOW,
        lines=(
            LineAllocation(
                line_no=1,
                product="Vaxzevria",
                unit=Unit.DOSES,
                pack_size=10,
                cleared_quantity=25,
                shares=(RecipientShare(recipient_code="01", quantity=20, packs=2),),
                reserve_quantity=5,
                reserve_lots=(lot("A1", 5),),
            ),
        ),
    )
    state = decider.fold([legacy])
    assert state.round_id == "R-00000000"
    old = state.rounds["R-00000000"]
    assert old.status is RoundStatus.APPROVED and old.legacy and old.automatic
    assert decider.decide(fast_track(), state)  # the new round has the full id


# --- acknowledgement ------------------------------------------------------------------------


def hanoi_notice(events: list[DomainEvent]) -> str:
    return next(n.notice_number for n in split(events)[2] if n.province_code == "01")


def test_a_province_acknowledges_its_notice_once() -> None:
    events = decide_round()
    number = hanoi_notice(events)
    ack = AcknowledgeNotice(notice_number=number, province_code="01", now=NOW)
    [acknowledged] = decider.decide(ack, decider.fold(events))
    assert isinstance(acknowledged, NoticeAcknowledged)
    assert (acknowledged.shipment_id, acknowledged.acknowledged_at) == (SHIPMENT, NOW)
    state = decider.fold([*events, acknowledged])
    assert state.notices[number].acknowledged
    assert not state.notices[hanoi_notice(events).replace("-01-", "-79-")].acknowledged
    assert decider.decide(ack, state) == []  # a retry


def test_another_provinces_notice_is_forbidden() -> None:
    events = decide_round()
    refused = refusal(AcknowledgeNotice(hanoi_notice(events), "79", NOW), decider.fold(events))
    assert isinstance(refused, NotPermitted)


@pytest.mark.parametrize("allocated", [True, False])
def test_an_unknown_notice_is_not_found(allocated: bool) -> None:
    state = decider.fold(decide_round() if allocated else [])
    refused = refusal(AcknowledgeNotice("R-00000000-01-9", "01", NOW), state)
    assert isinstance(refused, NotFound)
