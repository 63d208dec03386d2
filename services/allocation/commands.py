"""Commands built from other services' events and from reference data: the policy that
fits, every recipient's facts, emergency mode for fast-track relief."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from types import MappingProxyType

from services.allocation.domain import DraftRound
from services.allocation.policies.catalog import policy_for
from services.allocation.policies.engine import RecipientFacts
from services.allocation.policies.model import Policy
from services.allocation.recipients import recipients
from shared.contracts.allocation import RoundSource
from shared.contracts.customs import ClearedFastTrack, GoodsReleased

Received = Mapping[str, Mapping[str, int]]
NOTHING_RECEIVED: Received = MappingProxyType({})


@cache
def recipient_facts() -> Mapping[str, RecipientFacts]:
    return MappingProxyType(
        {r.code: RecipientFacts(r.population_scale, r.ultra_cold) for r in recipients()}
    )


def recipient_codes() -> frozenset[str]:
    return frozenset(recipient_facts())


def ultra_cold_codes() -> frozenset[str]:
    return frozenset(code for code, facts in recipient_facts().items() if facts.ultra_cold)


def policy_of(event: ClearedFastTrack | GoodsReleased) -> Policy:
    source = RoundSource.FAST_TRACK if isinstance(event, ClearedFastTrack) else RoundSource.RELEASE
    return policy_for(event.donor, tuple(x.product for x in event.lines), source)


def draft_for(
    event: ClearedFastTrack | GoodsReleased, now: datetime, received: Received = NOTHING_RECEIVED
) -> DraftRound:
    """Fast-track relief is approved automatically (emergency mode); a normal release waits
    for a Ministry approver unless its policy says otherwise, for every consignment or for
    the consignment's priority."""
    fast = isinstance(event, ClearedFastTrack)
    return DraftRound(
        shipment_id=event.shipment_id,
        source=RoundSource.FAST_TRACK if fast else RoundSource.RELEASE,
        release_no=None if isinstance(event, ClearedFastTrack) else event.release_no,
        donor=event.donor,
        lines=event.lines,
        released_at=event.cleared_at if isinstance(event, ClearedFastTrack) else event.released_at,
        policy=policy_of(event),
        recipients=recipient_facts(),
        received=received,
        now=now,
        emergency=fast,
        priority=event.priority,
    )
