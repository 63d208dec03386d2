"""Reporting's projection on real PostgreSQL: a batch folds as the events one by one do,
and a redelivered event changes nothing."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from services.reporting import projections
from shared.contracts.base import registry
from shared.envelope import Envelope, from_kafka, to_kafka
from shared.eventstore import RecordedEvent
from shared.migrations import migrate
from tests.reporting_events import Published, flow

pytestmark = pytest.mark.integration
MIGRATIONS = Path(projections.__file__).parent / "migrations"
QUERY = "SELECT shipment_id, donor, facts FROM report_consignments ORDER BY shipment_id"


def envelopes(events: list[Published]) -> list[Envelope]:
    out = []
    for n, p in enumerate(events, start=1):
        recorded = RecordedEvent(
            position=n,
            stream_id=str(p.event.shipment_id),
            stream_version=n,
            event_id=uuid.uuid4(),
            event_type=p.event.event_type,
            data=p.event.to_data(),
            metadata={"actor": p.actor},
            recorded_at=p.recorded_at,
        )
        record = to_kafka(recorded, f"aidport/{p.source}")
        out.append(from_kafka(record.headers, record.value, registry, record.key))
    return out


async def test_a_batch_folds_as_one_event_at_a_time(pool: asyncpg.Pool) -> None:
    events = envelopes(
        [
            *flow(uuid.uuid4(), donor="Japan", rejected=3),
            *flow(uuid.uuid4(), legacy=True),
            *flow(uuid.uuid4(), until="arrived"),
        ]
    )
    async with pool.acquire() as conn:
        await migrate(conn, MIGRATIONS)
        async with conn.transaction():
            await projections.record_batch(conn, events[:20])
            await projections.record_batch(conn, events)  # the first 20 again: nothing new
        batched = [dict(r) for r in await conn.fetch(QUERY)]
        await conn.execute("TRUNCATE report_events, report_consignments")
        for envelope in events:
            async with conn.transaction():
                await projections.record(conn, envelope)
                await projections.record(conn, envelope)
        assert [dict(r) for r in await conn.fetch(QUERY)] == batched
        assert await conn.fetchval("SELECT count(*) FROM report_events") == len(events)
    assert len(batched) == 3 and {r["donor"] for r in batched} == {"Japan", "COVAX"}
