"""Emergency mode by the consignment's priority: a policy names the priorities whose rounds
are approved at once, and the approval says why; fast-track relief stays automatic."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from services.allocation.commands import draft_for
from services.allocation.domain import ConsignmentAllocation, decider
from services.allocation.policies.catalog import policy, policy_for
from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDrafted,
    RoundApproved,
    RoundSource,
)
from shared.contracts.base import DomainEvent
from shared.contracts.customs import ClearedFastTrack, GoodsReleased
from shared.contracts.values import Priority
from tests.unit.builders import NOW, cleared, line, lot, released

DOSES = (line(1, 100_000, lots=(lot("A1", 100_000),)),)


def decided(event: ClearedFastTrack | GoodsReleased) -> list[DomainEvent]:
    return list(decider.decide(draft_for(event, NOW), ConsignmentAllocation()))


def test_the_default_policy_approves_emergencies_in_a_new_version() -> None:
    first, latest = policy("population-share", 1), policy("population-share")
    assert first.automatic_approval_priorities == ()  # a published version never changes
    assert latest.version == 2 and latest.automatic_approval_priorities == (Priority.EMERGENCY,)
    assert policy_for("COVAX", ("Vaxzevria",), RoundSource.RELEASE) == latest


def test_an_emergency_release_is_approved_at_once_with_the_reason() -> None:
    emergency = released(DOSES).model_copy(update={"priority": Priority.EMERGENCY})
    drafted, approved, *notices = decided(emergency)
    assert isinstance(drafted, AllocationRoundDrafted) and drafted.automatic_approval
    assert isinstance(approved, RoundApproved) and approved.automatic
    assert approved.decision_number == f"AUTO {drafted.round_id}"
    assert approved.approved_by == (
        "automatic under policy population-share v2, consignment priority emergency"
    )
    assert notices and all(isinstance(n, AllocatedToProvince) for n in notices)
    assert sum(n.quantity for n in notices if isinstance(n, AllocatedToProvince)) > 0


def test_routine_and_urgent_releases_wait_for_a_ministry_approver() -> None:
    for priority in (Priority.ROUTINE, Priority.URGENT):
        events = decided(released(DOSES).model_copy(update={"priority": priority}))
        assert [type(e) for e in events] == [AllocationRoundDrafted]
        assert isinstance(events[0], AllocationRoundDrafted)
        assert not events[0].automatic_approval


def test_fast_track_relief_stays_automatic_whatever_its_priority() -> None:
    routine = decided(cleared(DOSES))
    assert isinstance(routine[1], RoundApproved)
    assert routine[1].approved_by == "automatic under policy population-share v2"
    emergency = decided(cleared(DOSES).model_copy(update={"priority": Priority.EMERGENCY}))
    assert isinstance(emergency[1], RoundApproved)
    assert emergency[1].approved_by.endswith("consignment priority emergency")


def test_old_releases_decode_as_routine() -> None:
    old = released(DOSES).model_dump(mode="json")
    del old["priority"]
    assert GoodsReleased.model_validate(old).priority is Priority.ROUTINE


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(Priority),
    st.sets(st.sampled_from(Priority)),
    st.booleans(),
    st.booleans(),
)
def test_a_round_is_automatic_exactly_when_the_fast_track_policy_or_priority_says_so(
    priority: Priority, automatic_for: set[Priority], everything: bool, fast: bool
) -> None:
    chosen = policy("population-share").model_copy(
        update={
            "automatic_approval": everything,
            "automatic_approval_priorities": tuple(sorted(automatic_for)),
        }
    )
    event = (cleared(DOSES) if fast else released(DOSES)).model_copy(update={"priority": priority})
    command = replace(draft_for(event, NOW), policy=chosen)
    events = decider.decide(command, ConsignmentAllocation())
    approvals = [e for e in events if isinstance(e, RoundApproved)]
    assert bool(approvals) == (fast or everything or priority in automatic_for)
    for approval in approvals:
        said = approval.approved_by.endswith(f"consignment priority {priority}")
        assert said == (priority in automatic_for)
        assert approval.approved_by.startswith("automatic under policy population-share v2")
