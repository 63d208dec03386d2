"""What allocation does on other services' events: a fast-tracked clearance is allocated."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from services.allocation import domain
from services.allocation.application import allocations
from shared.consumer import Reaction, reaction_metadata
from shared.consumer.unit_of_work import BatchUnitOfWork, StreamCommand
from shared.contracts.customs import ClearedFastTrack
from shared.db import Conn
from shared.envelope import Envelope
from shared.observability import observe_lead_time
from shared.reference_data import provinces
from shared.runtime import Runtime


def _command(cleared: ClearedFastTrack) -> domain.DecideRound:
    return domain.DecideRound(cleared=cleared, provinces=provinces(), now=datetime.now(UTC))


def reaction(runtime: Runtime) -> Reaction:
    service = runtime.spec.name

    async def one(conn: Conn, envelope: Envelope) -> None:
        if not isinstance(envelope.event, ClearedFastTrack):
            return
        command = _command(envelope.event)
        metadata = reaction_metadata(service, envelope)
        recorded = await allocations(runtime).handle(
            conn, str(envelope.event.shipment_id), command, metadata
        )
        if recorded:
            observe_lead_time("cleared_to_allocated", envelope.event.cleared_at, command.now)

    async def many(conn: Conn, envelopes: Sequence[Envelope]) -> None:
        decided = [
            (e, _command(e.event)) for e in envelopes if isinstance(e.event, ClearedFastTrack)
        ]
        commands: list[StreamCommand[domain.Command]] = [
            StreamCommand(str(c.cleared.shipment_id), c, reaction_metadata(service, e))
            for e, c in decided
        ]
        recorded = await BatchUnitOfWork(allocations(runtime)).run(conn, commands)
        for (_, command), events in zip(decided, recorded, strict=True):
            if events:
                observe_lead_time("cleared_to_allocated", command.cleared.cleared_at, command.now)

    return Reaction(one, many)
