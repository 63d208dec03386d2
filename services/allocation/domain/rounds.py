"""Rounds: drafted from a release under a policy version, adjusted by an officer, approved
by another person (four-eyes) or automatically in emergency mode, amended before dispatch.
Notices go out only on approval."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from types import MappingProxyType
from uuid import UUID

from services.allocation.domain.changes import apply_changes
from services.allocation.domain.notices import notice_number_for
from services.allocation.domain.state import ConsignmentAllocation, Round, RoundStatus
from services.allocation.policies.engine import RecipientFacts, draft_line, lots_of
from services.allocation.policies.model import Policy
from services.allocation.policy import RESERVE
from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDecided,
    AllocationRoundDrafted,
    DraftLine,
    DraftShare,
    NoticeAmended,
    QuantityChange,
    RoundAdjusted,
    RoundAmended,
    RoundApproved,
    RoundSource,
    ShareBasis,
)
from shared.contracts.base import DomainEvent
from shared.contracts.rules import check_lots_add_up
from shared.contracts.values import Category, LineItem, Lot, Storage
from shared.decider import InvalidInput, NotFound, NotPermitted, RuleBroken, StateConflict


def round_id_for(shipment_id: UUID, release_no: int | None = None) -> str:
    """Stable for the consignment and as unique as it: the whole shipment id, never a prefix
    (8 hex digits made two HAN airway bills share a round id); a release adds its number."""
    base = "R-" + shipment_id.hex.upper()
    return base if release_no is None else f"{base}-{release_no}"


def reserve_round_id(shipment_id: UUID, number: int) -> str:
    return f"{round_id_for(shipment_id)}-RES{number}"


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftRound:
    """Draft the round of a release (``ClearedFastTrack`` or ``GoodsReleased``)."""

    shipment_id: UUID
    source: RoundSource
    release_no: int | None
    donor: str
    lines: tuple[LineItem, ...]
    released_at: datetime
    policy: Policy
    recipients: Mapping[str, RecipientFacts]
    received: Mapping[str, Mapping[str, int]]  # product -> recipient -> units so far
    now: datetime
    emergency: bool = False  # the consignment's priority asks for automatic approval


@dataclass(frozen=True)
class AdjustRound:
    round_id: str
    changes: tuple[QuantityChange, ...]
    reason: str
    by: str
    now: datetime
    recipients: frozenset[str]


@dataclass(frozen=True)
class ApproveRound:
    round_id: str
    decision_number: str
    decision_date: date
    by: str
    now: datetime


@dataclass(frozen=True)
class AmendRound:
    round_id: str
    decision_number: str
    decision_date: date
    changes: tuple[QuantityChange, ...]
    reason: str
    by: str
    now: datetime
    recipients: frozenset[str]


@dataclass(frozen=True)
class RedraftRound:
    """Draft a round again under a policy an officer names (before approval)."""

    round_id: str
    policy: Policy
    recipients: Mapping[str, RecipientFacts]
    received: Mapping[str, Mapping[str, int]]
    by: str
    now: datetime


@dataclass(frozen=True)
class ReleaseReserve:
    """Allocate part of a consignment's national reserve in a new round."""

    shipment_id: UUID
    quantities: Mapping[int, int]  # line no -> units to release
    policy: Policy
    recipients: Mapping[str, RecipientFacts]
    received: Mapping[str, Mapping[str, int]]
    by: str
    now: datetime


# --- evolve ---------------------------------------------------------------------------------


def evolve_rounds(state: ConsignmentAllocation, event: DomainEvent) -> ConsignmentAllocation:
    match event:
        case AllocationRoundDrafted():
            drafted = Round(
                round_id=event.round_id,
                source=event.source,
                policy_id=event.policy_id,
                policy_version=event.policy_version,
                lines=event.lines,
                release_no=event.release_no,
                automatic=event.automatic_approval,
                released_at=event.released_at,
                drafted_by=event.drafted_by,
                donor=event.donor,
            )
            return _with_round(replace(state, shipment_id=event.shipment_id), drafted)
        case AllocationRoundDecided():
            return _with_round(replace(state, shipment_id=event.shipment_id), _legacy(event))
        case RoundAdjusted():
            current = state.rounds[event.round_id]
            lines = apply_changes(current.lines, event.changes, event.reason)
            adjusters = current.adjusters | {event.adjusted_by}
            return _with_round(state, replace(current, lines=lines, adjusters=adjusters))
        case RoundApproved():
            current = state.rounds[event.round_id]
            approved = replace(
                current, status=RoundStatus.APPROVED, decision_number=event.decision_number
            )
            return _with_round(state, approved)
        case RoundAmended():
            current = state.rounds[event.round_id]
            lines = apply_changes(current.lines, event.changes, event.reason)
            amended = replace(current, lines=lines, decision_number=event.decision_number)
            return _with_round(state, amended)
    return state


def _with_round(state: ConsignmentAllocation, round_: Round) -> ConsignmentAllocation:
    rounds = MappingProxyType({**state.rounds, round_.round_id: round_})
    return replace(state, rounds=rounds, round_id=state.round_id or round_.round_id)


def _legacy(event: AllocationRoundDecided) -> Round:
    """A round decided at once by version 0.x: approved, automatic, the default policy."""
    lines = tuple(
        DraftLine(
            line_no=x.line_no,
            product=x.product,
            unit=x.unit,
            packaging_level="inner_pack",
            pack_size=x.pack_size,
            released_quantity=x.cleared_quantity,
            shares=tuple(
                DraftShare(
                    recipient_code=s.recipient_code,
                    quantity=s.quantity,
                    packs=s.packs,
                    basis=ShareBasis.SHARE,
                )
                for s in x.shares
            ),
            reserve_quantity=x.reserve_quantity,
            reserve_lots=x.reserve_lots,
        )
        for x in event.lines
    )
    policy_id, _, version = event.policy.partition("/v")
    return Round(
        round_id=event.round_id,
        source=RoundSource.FAST_TRACK,
        policy_id=policy_id,
        policy_version=int(version) if version.isdigit() else 1,
        lines=lines,
        automatic=True,
        status=RoundStatus.APPROVED,
        legacy=True,
    )


# --- draft ----------------------------------------------------------------------------------


def draft(command: DraftRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    round_id = round_id_for(command.shipment_id, command.release_no)
    if round_id in state.rounds:
        return []  # the release was delivered again
    policy = command.policy
    automatic = policy.automatic_approval or command.emergency
    drafted = _drafted(
        _Draft(
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
        approved_by=f"automatic under policy {policy.id} v{policy.version}",
        approved_at=command.now,
        automatic=True,
        policy_id=policy.id,
        policy_version=policy.version,
    )
    return [drafted, approval, *_notices(command.shipment_id, round_, approval)]


@dataclass(frozen=True)
class _Draft:
    """Who and what a drafted round is about, whatever its policy."""

    shipment_id: UUID
    round_id: str
    source: RoundSource
    release_no: int | None
    donor: str
    released_at: datetime | None
    drafted_by: str


def _drafted(
    about: _Draft,
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


def _manual(policy: Policy, what: str) -> None:
    if policy.automatic_approval:
        raise RuleBroken(
            f"policy {policy.label} approves automatically: {what} needs a Ministry decision",
            field="policy_id",
            code="automatic-policy",
        )


def redraft(command: RedraftRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    """The same release drafted again under another policy; earlier adjustments are gone,
    and who asked for it is an author (four-eyes)."""
    round_ = _existing(state, command.round_id)
    if round_.status is not RoundStatus.DRAFTED:
        raise StateConflict(f"round {round_.round_id} is approved", code="round-approved")
    if round_.legacy:
        raise StateConflict("a round decided by version 0.x cannot be redrafted", code="legacy")
    _manual(command.policy, "a redraft")
    assert state.shipment_id is not None
    about = _Draft(
        shipment_id=state.shipment_id,
        round_id=round_.round_id,
        source=round_.source,
        release_no=round_.release_no,
        donor=round_.donor,
        released_at=round_.released_at,
        drafted_by=command.by,
    )
    lines = tuple(_as_released(x, lots_of(x), x.released_quantity) for x in round_.lines)
    return [
        _drafted(
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


def _notices(
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


# --- review and approval --------------------------------------------------------------------


def _existing(state: ConsignmentAllocation, round_id: str) -> Round:
    found = state.rounds.get(round_id)
    if found is None:
        raise NotFound(f"no round {round_id}", field="round_id", code="round-not-found")
    return found


def _known(changes: tuple[QuantityChange, ...], recipients: frozenset[str]) -> None:
    for index, change in enumerate(changes):
        if change.recipient_code != RESERVE and change.recipient_code not in recipients:
            raise InvalidInput(
                f"no recipient {change.recipient_code}",
                field=f"changes/{index}/recipient_code",
                code="recipient-not-found",
            )


def adjust(command: AdjustRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    round_ = _existing(state, command.round_id)
    if round_.status is not RoundStatus.DRAFTED:
        raise StateConflict(
            f"round {round_.round_id} is approved: amend it by a new decision instead",
            code="round-approved",
        )
    _known(command.changes, command.recipients)
    apply_changes(round_.lines, command.changes, command.reason)  # refuses what breaks a rule
    assert state.shipment_id is not None
    return [
        RoundAdjusted(
            shipment_id=state.shipment_id,
            round_id=round_.round_id,
            changes=command.changes,
            reason=command.reason,
            adjusted_by=command.by,
            adjusted_at=command.now,
        )
    ]


def approve(command: ApproveRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    round_ = _existing(state, command.round_id)
    if round_.status is RoundStatus.APPROVED:
        if round_.decision_number == command.decision_number:
            return []  # a retry
        raise StateConflict(
            f"round {round_.round_id} is already approved by decision {round_.decision_number}",
            code="round-approved",
        )
    if command.by in round_.authors:
        raise NotPermitted(
            f"{command.by} drafted or adjusted round {round_.round_id}: another person approves"
            " it (four-eyes)",
            code="four-eyes",
        )
    assert state.shipment_id is not None
    approval = RoundApproved(
        shipment_id=state.shipment_id,
        round_id=round_.round_id,
        decision_number=command.decision_number,
        decision_date=command.decision_date,
        approved_by=command.by,
        approved_at=command.now,
        policy_id=round_.policy_id,
        policy_version=round_.policy_version,
    )
    return [approval, *_notices(state.shipment_id, round_, approval)]


def amend(command: AmendRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    round_ = _existing(state, command.round_id)
    if round_.status is not RoundStatus.APPROVED:
        raise StateConflict(
            f"round {round_.round_id} is not approved yet: adjust the draft instead",
            code="round-not-approved",
        )
    if round_.legacy:
        raise StateConflict("a round decided by version 0.x cannot be amended", code="legacy")
    _known(command.changes, command.recipients)
    lines = apply_changes(round_.lines, command.changes, command.reason)
    assert state.shipment_id is not None
    amended = RoundAmended(
        shipment_id=state.shipment_id,
        round_id=round_.round_id,
        decision_number=command.decision_number,
        decision_date=command.decision_date,
        changes=command.changes,
        reason=command.reason,
        amended_by=command.by,
        amended_at=command.now,
    )
    return [amended, *_amended_notices(state, round_, lines, amended)]


def _amended_notices(
    state: ConsignmentAllocation, round_: Round, lines: tuple[DraftLine, ...], amended: RoundAmended
) -> list[DomainEvent]:
    assert state.shipment_id is not None
    events: list[DomainEvent] = []
    for before, after in zip(round_.lines, lines, strict=True):
        old = {s.recipient_code: s for s in before.shares}
        for share in after.shares:
            number = notice_number_for(round_.round_id, share.recipient_code, after.line_no)
            previous = old.get(share.recipient_code)
            if previous is not None and (previous.quantity, previous.lots) == (
                share.quantity,
                share.lots,
            ):
                continue
            notice = state.notices.get(number)
            if notice is not None and notice.dispatched:
                raise StateConflict(
                    f"notice {number} is dispatched: its quantity or lots cannot change",
                    code="notice-dispatched",
                )
            if notice is not None:
                events.append(
                    NoticeAmended(
                        shipment_id=state.shipment_id,
                        notice_number=number,
                        round_id=round_.round_id,
                        province_code=share.recipient_code,
                        decision_number=amended.decision_number,
                        quantity=share.quantity,
                        packs=share.packs,
                        lots=share.lots,
                        amended_at=amended.amended_at,
                    )
                )
            elif share.quantity > 0:
                events.append(_new_notice(state.shipment_id, round_, after, share, amended))
    return events


def _new_notice(
    shipment_id: UUID, round_: Round, line: DraftLine, share: DraftShare, amended: RoundAmended
) -> AllocatedToProvince:
    return AllocatedToProvince(
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
        decision_number=amended.decision_number,
    )


# --- the national reserve -------------------------------------------------------------------


def reserve_stock(state: ConsignmentAllocation) -> dict[int, tuple[Lot, ...]]:
    """Per line, the lots the national reserve holds of this consignment: what approved
    rounds kept, less what reserve rounds took (a draft holds its lots until approved, then
    gives back what it kept in reserve itself)."""
    stock: dict[int, Counter[tuple[date, str]]] = {}
    for round_ in state.rounds.values():
        for line in round_.lines:
            held = stock.setdefault(line.line_no, Counter())
            kept = Counter({(x.expiry_date, x.lot_number): x.quantity for x in line.reserve_lots})
            if round_.source is RoundSource.RESERVE:
                held.subtract({(x.expiry_date, x.lot_number): x.quantity for x in lots_of(line)})
                if round_.status is RoundStatus.APPROVED:
                    held.update(kept)
            elif round_.status is RoundStatus.APPROVED:
                held.update(kept)
    return {
        line_no: tuple(
            Lot(lot_number=number, expiry_date=expiry, quantity=q)
            for (expiry, number), q in sorted(held.items())
            if q > 0
        )
        for line_no, held in sorted(stock.items())
        if +held
    }


def release_reserve(command: ReleaseReserve, state: ConsignmentAllocation) -> list[DomainEvent]:
    if state.shipment_id is None:
        raise NotFound(f"no allocation for consignment {command.shipment_id}", code="no-round")
    stock = reserve_stock(state)
    lines = []
    for line_no, wanted in sorted(command.quantities.items()):
        source = next(
            (r.line(line_no) for r in state.rounds.values() if r.line(line_no) is not None), None
        )
        held = stock.get(line_no, ())
        if source is None:
            raise InvalidInput(f"the consignment has no line {line_no}", field="lines/line_no")
        if wanted < 1 or wanted > sum(x.quantity for x in held):
            raise RuleBroken(
                f"line {line_no}: the reserve holds {sum(x.quantity for x in held)},"
                f" {wanted} asked",
                field="lines/quantity",
                code="reserve-short",
            )
        lines.append(_as_released(source, _earliest(held, wanted), wanted))
    _manual(command.policy, "a reserve release")
    number = 1 + sum(1 for r in state.rounds.values() if r.source is RoundSource.RESERVE)
    about = _Draft(
        shipment_id=command.shipment_id,
        round_id=reserve_round_id(command.shipment_id, number),
        source=RoundSource.RESERVE,
        release_no=None,
        donor=next((r.donor for r in state.rounds.values() if r.donor), ""),
        released_at=command.now,
        drafted_by=command.by,
    )
    return [
        _drafted(
            about,
            tuple(lines),
            command.policy,
            command.recipients,
            command.received,
            command.now,
            automatic=False,
        )
    ]


def _earliest(held: tuple[Lot, ...], wanted: int) -> tuple[Lot, ...]:
    """The earliest-expiring reserve lots first (``held`` is in that order)."""
    taken: list[Lot] = []
    for lot in held:
        part = min(lot.quantity, wanted)
        if part:
            taken.append(lot.model_copy(update={"quantity": part}))
            wanted -= part
    return tuple(taken)


def _as_released(source: DraftLine, lots: tuple[Lot, ...], quantity: int) -> LineItem:
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
