"""Reporting's projection on real PostgreSQL: a batch folds as the events one by one do, a
redelivered event changes nothing, and the live picture added up in SQL from the stored
standings equals the one added up in Python from the folded facts."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import asyncpg
import pytest

from services.reporting import projections, queries
from services.reporting.domain import picture, reports
from services.reporting.domain.facts import Consignment
from services.reporting.domain.picture import Population
from services.reporting.domain.standing import STANDING_VERSION
from shared.contracts.base import registry
from shared.contracts.values import Channel
from shared.envelope import Envelope, from_kafka, to_kafka
from shared.eventstore import RecordedEvent
from shared.migrations import migrate
from tests.reporting_events import STEPS, T0, Published, flow

pytestmark = pytest.mark.integration
MIGRATIONS = Path(projections.__file__).parent / "migrations"
QUERY = "SELECT shipment_id, donor, facts FROM report_consignments ORDER BY shipment_id"
POPULATIONS = [Population("01", "Hà Nội", "Ha Noi", 8_000_000), Population("79", "HCM", "HCMC", 0)]


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


def many_flows(seed: int, count: int) -> list[Published]:
    """Consignments at every step, to several recipients, some with rejections or late
    reports, their events interleaved as a reader of three topics may see them."""
    rng = random.Random(seed)
    events: list[Published] = []
    for n in range(count):
        events += flow(
            uuid.UUID(int=seed * 10_000 + n + 1),
            donor=rng.choice(["COVAX", "Japan", "USA", "Việt kiều"]),
            doses=rng.randint(10, 500_000),
            until=rng.choice(STEPS),
            start=T0 + timedelta(hours=rng.randint(0, 400)),
            provinces=tuple(rng.sample(["01", "79", "31", "48", "MOD", "NEPI"], rng.randint(1, 4))),
            rejected=rng.choice([0, 0, 3]),
            channel=rng.choice(list(Channel)),
            legacy=rng.random() < 0.2,
            var_filed=rng.random() < 0.7,
        )
    rng.shuffle(events)  # across consignments; each one's own order kept below
    return sorted(events, key=lambda p: (p.event.shipment_id, p.recorded_at))


async def test_the_live_picture_added_up_in_sql_equals_the_one_added_up_in_python(
    pool: asyncpg.Pool,
) -> None:
    events = envelopes(many_flows(seed=7, count=60))
    async with pool.acquire() as conn:
        await migrate(conn, MIGRATIONS)
        for start in range(0, len(events), 50):
            async with conn.transaction():
                await projections.record_batch(conn, events[start : start + 50])
        folded = [
            Consignment.model_validate(r["facts"])
            for r in await conn.fetch("SELECT facts FROM report_consignments")
        ]
        deadline = await conn.fetchval("SELECT min(stuck_from) FROM report_deadlines")
    known = picture.standings(folded)
    assert len(known) == 60
    just_before = deadline - timedelta(microseconds=1)  # and at the instant itself
    for now in (T0, T0 + timedelta(hours=30), just_before, deadline, T0 + timedelta(days=40)):
        live = picture.dashboard_from(await queries.live_tally(pool, now), POPULATIONS, now, False)
        replayed = picture.dashboard(folded, POPULATIONS, now, False)
        assert live == replayed
    assert live.stuck and live.products and any(d.count for d in live.lead_times)
    for code in ("01", "79", "MOD", "99"):
        assert await queries.live_recipient(pool, code) == reports.recipient_part(known, code)


async def test_standings_saved_by_older_code_are_derived_again_at_start(
    pool: asyncpg.Pool,
) -> None:
    events = envelopes(many_flows(seed=8, count=12))
    async with pool.acquire() as conn:
        await migrate(conn, MIGRATIONS)
        async with conn.transaction():
            await projections.record_batch(conn, events)
        before = await _standing_tables(conn)
        await conn.execute("UPDATE report_consignments SET standing_version = 0, stage = 'x'")
        for table in projections.STANDING_TABLES:
            await conn.execute(f"DELETE FROM {table}")
    runtime = SimpleNamespace(pool=pool)
    await projections.derive_missing_standings(runtime, page=5)  # type: ignore[arg-type]
    async with pool.acquire() as conn:
        assert await _standing_tables(conn) == before
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM report_consignments WHERE standing_version <> $1",
                STANDING_VERSION,
            )
            == 0
        )


async def _standing_tables(conn: asyncpg.Connection) -> dict[str, list[dict[str, object]]]:
    tables = ["report_consignments", *projections.STANDING_TABLES]
    return {
        t: [dict(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables
    }
