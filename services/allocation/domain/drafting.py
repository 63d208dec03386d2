"""Drafting a round under a policy version: from a release, again under another policy, or
from the national reserve; approved at once in emergency mode, with its notices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from services.allocation.domain.notices import notice_number_for
from services.allocation.domain.rounds import (
    DraftRound,
    RedraftRound,
    evolve_rounds,
    existing_round,
    round_id_for,
)
from services.allocation.domain.state import ConsignmentAllocation, Round, RoundStatus
from services.allocation.policies.engine import RecipientFacts, draft_line, lots_of
from services.allocation.policies.model import Policy
from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDrafted,
    DraftLine,
    RoundApproved,
    RoundSource,
)
from shared.contracts.base import DomainEvent
from shared.contracts.rules import check_lots_add_up
from shared.contracts.values import Category, LineItem, Lot, Priority, Storage
from shared.decider import RuleBroken, StateConflict


def draft(command: DraftRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    round_id = _round_id(command, state)
    if round_id is None or round_id in state.rounds:
        return []  # the release was delivered again
    policy = command.policy
    by_priority = command.priority in policy.automatic_approval_priorities
    automatic = policy.automatic_approval or command.emergency or by_priority
    drafted = drafted_event(
        Drafting(
            shipment_id=command.shipment_id,
            round_id=round_id,
            source=command.source,
            release_no=command.release_no,
            donor=command.donor,
            released_at=command.released_at,
            drafted_by="",
        ),
        command.lines,
        policy,
        command.recipients,
        command.received,
        command.now,
        automatic,
    )
    if not automatic:
        return [drafted]
    round_ = evolve_rounds(state, drafted).rounds[round_id]
    approval = RoundApproved(
        shipment_id=command.shipment_id,
        round_id=round_id,
        decision_number=f"AUTO {round_id}",
        decision_date=command.now.date(),
        approved_by=automatic_approver(policy, command.priority if by_priority else None),
        approved_at=command.now,
        automatic=True,
        policy_id=policy.id,
        policy_version=policy.version,
    )
    return [drafted, approval, *notices_of(command.shipment_id, round_, approval)]


def automatic_approver(policy: Policy, priority: Priority | None) -> str:
    """Who approved an automatic round: the policy, and the priority when that decided it."""
    by = f"automatic under policy {policy.id} v{policy.version}"
    return f"{by}, consignment priority {priority}" if priority else by


def _round_id(command: DraftRound, state: ConsignmentAllocation) -> str | None:
    """A customs release carries its number. A fast-track clearance does not, and a
    consignment arriving in parts can be fast-tracked once per part: the first keeps the
    consignment's round id, a later one (cleared at another moment) gets ``-FT<n>``; a
    clearance delivered again, or one beside a round not knowing its moment, gets None."""
    if command.source is not RoundSource.FAST_TRACK or command.release_no is not None:
        return round_id_for(command.shipment_id, command.release_no)
    earlier = [
        r for r in state.rounds.values() if r.source is RoundSource.FAST_TRACK and not r.legacy
    ]
    if any(r.released_at in (None, command.released_at) for r in earlier):
        return None
    base = round_id_for(command.shipment_id)
    return f"{base}-FT{len(earlier) + 1}" if earlier else base


@dataclass(frozen=True)
class Drafting:
    """Who and what a drafted round is about, whatever its policy."""

    shipment_id: UUID
    round_id: str
    source: RoundSource
    release_no: int | None
    donor: str
    released_at: datetime | None
    drafted_by: str


def drafted_event(
    about: Drafting,
    lines: tuple[LineItem, ...],
    policy: Policy,
    recipients: Mapping[str, RecipientFacts],
    received: Mapping[str, Mapping[str, int]],
    now: datetime,
    automatic: bool,
) -> AllocationRoundDrafted:
    drafted = []
    for index, line in enumerate(lines):
        # Customs builds lines this way; one that does not add up would lose doses in FEFO.
        check_lots_add_up(line, f"released/lines/{index}")
        so_far = received.get(line.product, {})
        one = draft_line(line, about.donor, policy, recipients, so_far)
        drafted.append(one.model_copy(update={"storage": line.storage}))
    return AllocationRoundDrafted(
        shipment_id=about.shipment_id,
        round_id=about.round_id,
        source=about.source,
        release_no=about.release_no,
        policy_id=policy.id,
        policy_version=policy.version,
        automatic_approval=automatic,
        use_by=_use_by(policy, now),
        drafted_at=now,
        lines=tuple(drafted),
        released_at=about.released_at,
        drafted_by=about.drafted_by,
        donor=about.donor[:200],
    )


def require_manual(policy: Policy, what: str) -> None:
    if policy.automatic_approval:
        raise RuleBroken(
            f"policy {policy.label} approves automatically: {what} needs a Ministry decision",
            field="policy_id",
            code="automatic-policy",
        )


def redraft(command: RedraftRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    """The same release drafted again under another policy; earlier adjustments are gone,
    and who asked for it is an author (four-eyes)."""
    round_ = existing_round(state, command.round_id)
    if round_.status is not RoundStatus.DRAFTED:
        raise StateConflict(f"round {round_.round_id} is approved", code="round-approved")
    if round_.legacy:
        raise StateConflict("a round decided by version 0.x cannot be redrafted", code="legacy")
    require_manual(command.policy, "a redraft")
    assert state.shipment_id is not None
    about = Drafting(
        shipment_id=state.shipment_id,
        round_id=round_.round_id,
        source=round_.source,
        release_no=round_.release_no,
        donor=round_.donor,
        released_at=round_.released_at,
        drafted_by=command.by,
    )
    lines = tuple(as_released(x, lots_of(x), x.released_quantity) for x in round_.lines)
    return [
        drafted_event(
            about,
            lines,
            command.policy,
            command.recipients,
            command.received,
            command.now,
            automatic=False,
        )
    ]


def _use_by(policy: Policy, now: datetime) -> date | None:
    if policy.use_by is not None:
        return policy.use_by
    if policy.use_within_days is not None:
        return now.date() + timedelta(days=policy.use_within_days)
    return None


def notices_of(
    shipment_id: UUID, round_: Round, approval: RoundApproved
) -> list[AllocatedToProvince]:
    return [
        AllocatedToProvince(
            shipment_id=shipment_id,
            notice_number=notice_number_for(round_.round_id, share.recipient_code, line.line_no),
            round_id=round_.round_id,
            province_code=share.recipient_code,
            line_no=line.line_no,
            product=line.product,
            unit=line.unit,
            pack_size=line.pack_size,
            quantity=share.quantity,
            packs=share.packs,
            lots=share.lots,
            released_at=round_.released_at,
            decision_number=approval.decision_number,
        )
        for line in round_.lines
        for share in line.shares
        if share.quantity > 0
    ]


def as_released(source: DraftLine, lots: tuple[Lot, ...], quantity: int) -> LineItem:
    """A drafted line as a line the policy can share again."""
    return LineItem(
        line_no=source.line_no,
        product=source.product,
        category=Category.VACCINE,
        unit=source.unit,
        pack_size=source.pack_size,
        quantity=quantity,
        storage=source.storage or Storage.COLD_2_8,
        lots=lots,
    )
