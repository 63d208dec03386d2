"""Rounds: their ids, the commands on them, and how their events change the state.

A round is drafted from a release under a policy version (``drafting``), adjusted by an
officer and approved by another person or automatically in emergency mode, amended before
dispatch (``review``); the national reserve is released in rounds of its own (``reserve``).
Notices go out only on approval."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from types import MappingProxyType
from uuid import UUID

from services.allocation.domain.changes import apply_changes
from services.allocation.domain.state import ConsignmentAllocation, Round, RoundStatus
from services.allocation.policies.engine import RecipientFacts
from services.allocation.policies.model import Policy
from shared.contracts.allocation import (
    AllocationRoundDecided,
    AllocationRoundDrafted,
    DraftLine,
    DraftShare,
    QuantityChange,
    RoundAdjusted,
    RoundAmended,
    RoundApproved,
    RoundSource,
    ShareBasis,
)
from shared.contracts.base import DomainEvent
from shared.contracts.values import LineItem, Priority
from shared.decider import NotFound


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
    received: Mapping[str, Mapping[str, int]]  # product -> recipient -> units against its need
    now: datetime
    emergency: bool = False  # fast-track relief: approved automatically whatever the policy
    priority: Priority = Priority.ROUTINE  # the consignment's, as customs released it


@dataclass(frozen=True)
class AdjustRound:
    round_id: str
    changes: tuple[QuantityChange, ...]
    reason: str
    by: str
    now: datetime
    recipients: frozenset[str]
    ultra_cold: frozenset[str] = frozenset()  # recipients with ultra-cold capacity


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
    ultra_cold: frozenset[str] = frozenset()  # recipients with ultra-cold capacity


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


def existing_round(state: ConsignmentAllocation, round_id: str) -> Round:
    found = state.rounds.get(round_id)
    if found is None:
        raise NotFound(f"no round {round_id}", field="round_id", code="round-not-found")
    return found
