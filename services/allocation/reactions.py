"""What allocation does on other services' events: every release from customs (the fast
track's ``ClearedFastTrack`` or a ``GoodsReleased``) yields a draft round; fast-track relief
is approved at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from services.allocation import domain, queries
from services.allocation.application import allocations
from services.allocation.commands import NOTHING_RECEIVED, draft_for, policy_of
from shared.consumer import Reaction, reaction_metadata
from shared.consumer.unit_of_work import BatchUnitOfWork, StreamCommand
from shared.contracts.customs import ClearedFastTrack, GoodsReleased
from shared.db import Conn
from shared.envelope import Envelope
from shared.observability import observe_lead_time
from shared.runtime import Runtime

Release = ClearedFastTrack | GoodsReleased
RELEASES_AT_ONCE = 50
"""Releases drafted per unit of work: each yields a round of a share per province and its
notices, so a catch-up batch of a thousand is worked through in slices of bounded memory."""


async def _command(conn: Conn, release: Release) -> domain.DraftRound:
    """The draft; the caps' read model is read only by policies with caps."""
    received = NOTHING_RECEIVED
    if policy_of(release).targets:
        received = await queries.counted_against_need(conn, [x.product for x in release.lines])
    return draft_for(release, datetime.now(UTC), received)


def _released_at(release: Release) -> datetime:
    return release.cleared_at if isinstance(release, ClearedFastTrack) else release.released_at


def reaction(runtime: Runtime) -> Reaction:
    service = runtime.spec.name

    async def one(conn: Conn, envelope: Envelope) -> None:
        if not isinstance(envelope.event, ClearedFastTrack | GoodsReleased):
            return
        command = await _command(conn, envelope.event)
        metadata = reaction_metadata(service, envelope)
        recorded = await allocations(runtime).handle(
            conn, str(envelope.event.shipment_id), command, metadata
        )
        if recorded:
            observe_lead_time("cleared_to_allocated", _released_at(envelope.event), command.now)

    async def many(conn: Conn, envelopes: Sequence[Envelope]) -> None:
        releases = [
            (e, e.event) for e in envelopes if isinstance(e.event, ClearedFastTrack | GoodsReleased)
        ]
        for start in range(0, len(releases), RELEASES_AT_ONCE):
            await draft(conn, releases[start : start + RELEASES_AT_ONCE])

    async def draft(conn: Conn, releases: Sequence[tuple[Envelope, Release]]) -> None:
        drafted = [(e, r, await _command(conn, r)) for e, r in releases]
        commands: list[StreamCommand[domain.Command]] = [
            StreamCommand(str(r.shipment_id), c, reaction_metadata(service, e))
            for e, r, c in drafted
        ]
        recorded = await BatchUnitOfWork(allocations(runtime)).run(conn, commands)
        for (_, release, command), events in zip(drafted, recorded, strict=True):
            if events:
                observe_lead_time("cleared_to_allocated", _released_at(release), command.now)

    return Reaction(one, many, acts_on=(ClearedFastTrack, GoodsReleased))
