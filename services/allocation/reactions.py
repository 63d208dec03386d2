"""What allocation does on other services' events: a fast-tracked clearance is allocated."""

from __future__ import annotations

from datetime import UTC, datetime

from services.allocation import domain
from services.allocation.application import allocations
from shared.consumer import Handler, reaction_metadata
from shared.contracts.customs import ClearedFastTrack
from shared.db import Conn
from shared.envelope import Envelope
from shared.observability import observe_lead_time
from shared.reference_data import provinces
from shared.runtime import Runtime


def reaction(runtime: Runtime) -> Handler:
    async def handle(conn: Conn, envelope: Envelope) -> None:
        if not isinstance(envelope.event, ClearedFastTrack):
            return
        command = domain.DecideRound(
            cleared=envelope.event, provinces=provinces(), now=datetime.now(UTC)
        )
        metadata = reaction_metadata(runtime.spec.name, envelope)
        recorded = await allocations(runtime).handle(
            conn, str(envelope.event.shipment_id), command, metadata
        )
        if recorded:
            observe_lead_time("cleared_to_allocated", envelope.event.cleared_at, command.now)

    return handle
