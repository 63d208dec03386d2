"""Reporting's projection on real PostgreSQL: a batch folds as the events one by one do, a
redelivered event changes nothing, and the live picture added up in SQL from the stored
standings equals the one added up in Python from the folded facts."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import asyncpg
import pytest

from services.reporting import projections, queries
from services.reporting.domain import picture, reports
from services.reporting.domain.facts import Consignment
from services.reporting.domain.picture import Population
from services.reporting.domain.reports import RecipientPart
from services.reporting.domain.standing import STANDING_VERSION
from services.reporting.standing_rows import TABLES
from shared.db import Conn
from shared.decider import InvalidInput
from shared.migrations import migrate
from tests.reporting_events import T0, envelopes, flow, folded_as_of, many_flows, stored

pytestmark = pytest.mark.integration
MIGRATIONS = Path(projections.__file__).parent / "migrations"
QUERY = "SELECT shipment_id, donor, facts FROM report_consignments ORDER BY shipment_id"
POPULATIONS = [Population("01", "Hà Nội", "Ha Noi", 8_000_000), Population("79", "HCM", "HCMC", 0)]


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
        oldest = await queries.live_tally(pool, now, stuck_limit=5)  # ordered alike in SQL
        expected = picture.tally(known, now, stuck_limit=5)
        assert (oldest.stuck, oldest.stuck_total) == (expected.stuck, expected.stuck_total)
    assert live.stuck and live.products and any(d.count for d in live.lead_times)
    for code in ("01", "79", "MOD", "99"):
        assert await queries.live_recipient(pool, code) == reports.recipient_part(known, code)


async def test_as_of_adds_up_the_settled_standings_and_replays_only_what_was_changing(
    pool: asyncpg.Pool,
) -> None:
    """The picture at a past moment equals the one folded from every event kept up to then,
    though only the consignments still changing then are replayed."""
    events = envelopes(many_flows(seed=9, count=60))
    async with pool.acquire() as conn:
        await migrate(conn, MIGRATIONS)
        for start in range(0, len(events), 50):  # consumed out of time order
            async with conn.transaction():
                await projections.record_batch(conn, events[start : start + 50])
    times = sorted({e.time for e in events})
    rng = random.Random(9)
    moments = [times[0] - timedelta(hours=1), times[-1], times[-1] + timedelta(days=30)]
    for at in rng.sample(times, 12):
        moments += [at, at - timedelta(microseconds=1)]
    everything = len(events)
    changing_somewhere = 0
    for at in moments:
        replayed = await folded_as_of(pool, at)
        tally = await queries.tally_as_of(pool, at, everything)
        oldest = await queries.tally_as_of(pool, at, everything, stuck_limit=3)
        expected = picture.tally(picture.standings(replayed), at, stuck_limit=3)
        assert (oldest.stuck, oldest.stuck_total) == (expected.stuck, expected.stuck_total)
        assert picture.dashboard_from(tally, POPULATIONS, at, True) == picture.dashboard(
            replayed, POPULATIONS, at, True
        ), at
        for donor in {c.donor for c in replayed}:
            by_donor = await queries.donor_consignments_as_of(pool, donor, at, everything)
            assert by_donor == [c for c in replayed if c.donor == donor], (at, donor)
        known = picture.standings(replayed)
        for code in ("01", "79", "MOD"):
            part = await queries.recipient_as_of(pool, code, at, everything)
            assert _ordered(part) == _ordered(reports.recipient_part(known, code)), (at, code)
        changing = await pool.fetchval(
            "SELECT count(*) FROM report_consignments"
            " WHERE first_recorded_at <= $1 AND last_recorded_at > $1",
            at,
        )
        changing_somewhere += changing > 0
        if changing == 0:  # nothing to replay: any cap will do
            assert await queries.tally_as_of(pool, at, 0) == tally
        else:
            with pytest.raises(InvalidInput, match="still changing"):
                await queries.tally_as_of(pool, at, 0)
    assert changing_somewhere >= 10  # most moments fell while consignments were moving


async def test_the_migration_finds_when_stored_consignments_were_recorded(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        before = await _recorded(conn, seed=10)
        await conn.execute(
            "UPDATE report_consignments SET first_recorded_at = NULL, last_recorded_at = NULL"
        )
        await conn.execute("DELETE FROM schema_migrations WHERE name LIKE '%0004_recorded_span%'")
        assert await migrate(conn, MIGRATIONS) == ["reporting/0004_recorded_span.sql"]
        assert await stored(conn) == before
    spans = [(r["first_recorded_at"], r["last_recorded_at"]) for r in before["report_consignments"]]
    assert all(first and last and first < last for first, last in spans)


async def _recorded(conn: Conn, seed: int) -> dict[str, list[dict[str, object]]]:
    """A dozen consignments recorded in one batch on fresh tables; what was stored."""
    await migrate(conn, MIGRATIONS)
    async with conn.transaction():
        await projections.record_batch(conn, envelopes(many_flows(seed=seed, count=12)))
    return await stored(conn)


async def test_consignments_saved_without_their_times_are_replayed_then_given_them(
    pool: asyncpg.Pool,
) -> None:
    """A replica of older code saves consignments without their events' times: as_of replays
    them (it cannot tell whether they were settled), and the next start fills the times in."""
    async with pool.acquire() as conn:
        before = await _recorded(conn, seed=11)
        await conn.execute(
            "UPDATE report_consignments SET first_recorded_at = NULL, last_recorded_at = NULL"
            " WHERE shipment_id IN (SELECT shipment_id FROM report_consignments"
            " ORDER BY shipment_id LIMIT 6)"
        )
        times = sorted({r["recorded_at"] for r in await conn.fetch("SELECT * FROM report_events")})
    for at in (times[0], times[len(times) // 2], times[-1]):
        tally = await queries.tally_as_of(pool, at, 10_000)
        expected = picture.dashboard(await folded_as_of(pool, at), POPULATIONS, at, True)
        assert picture.dashboard_from(tally, POPULATIONS, at, True) == expected
    await projections.derive_missing_standings(SimpleNamespace(pool=pool), page=4)  # type: ignore[arg-type]
    async with pool.acquire() as conn:
        assert await stored(conn) == before


def _ordered(part: RecipientPart) -> RecipientPart:
    """The part with its notices in one order (the summaries sort them by time anyway)."""
    return replace(part, notices=sorted(part.notices, key=lambda n: n.notice_number))


async def test_standings_saved_by_older_code_are_derived_again_at_start(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        before = await _recorded(conn, seed=8)
        await conn.execute("UPDATE report_consignments SET standing_version = 0, stage = 'x'")
        for table in TABLES:
            await conn.execute(f"DELETE FROM {table}")
    runtime = SimpleNamespace(pool=pool)
    await projections.derive_missing_standings(runtime, page=5)  # type: ignore[arg-type]
    async with pool.acquire() as conn:
        assert await stored(conn) == before
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM report_consignments WHERE standing_version <> $1",
                STANDING_VERSION,
            )
            == 0
        )
