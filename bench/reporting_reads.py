"""Benchmark: reporting's live reads over a large store, and what its projection costs.

Run: ``.venv/bin/python -m bench.reporting_reads [consignments]`` (default 2,000). Starts
its own PostgreSQL in a temporary folder, prints figures and writes
``bench/results/reporting_reads.json``; asserts nothing but that both ways agree.

- record: whole consignments' events (each allocated to all 34 provinces) go through the
  consumer's write path, ``projections.record_batch``, 500 events a transaction;
- the dashboard and a province summary, answered live (SQL over the stored standings) and
  by decoding every consignment's facts and adding them up in Python (the live path before
  standings): median of 5, and the peak of Python memory traced during one more;
- the dashboard ``as_of`` a moment halfway through: the stored standings of the consignments
  settled by then with the others replayed (``queries.tally_as_of``), against replaying
  every event kept up to then (the ``as_of`` path before);
- ten live dashboards asked at once (as ten open pages refresh on the same change): through
  ``Reporting``, which adds the picture up once for all of them, against ten tallies;
- rebuild: ``projections.rebuild`` over everything recorded.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from services.reporting import projections, queries
from services.reporting.application import Reporting, populations
from services.reporting.domain import picture, reports
from services.reporting.domain.facts import Consignment
from shared.db import create_pool
from shared.infra.postgres import EmbeddedPostgres
from shared.migrations import migrate
from shared.reference_data import national_recipients, province_codes
from tests.reporting_events import T0, envelopes, folded_as_of, many_flows  # the tests' own

RESULTS = Path(__file__).parent / "results" / "reporting_reads.json"
NOW = T0 + timedelta(days=40)  # late enough for every kind of stuck item
AS_OF = T0 + timedelta(hours=200)  # the consignments start over 400 hours
BATCH = 500


async def record(pool: asyncpg.Pool, consignments: int) -> tuple[int, float]:
    """Records the consignments 200 at a time; returns the events and the seconds spent."""
    events, spent = 0, 0.0
    for first in range(0, consignments, 200):
        flows = many_flows(first + 1, min(200, consignments - first), province_codes(), (34, 34))
        batch = envelopes(flows)
        started = time.perf_counter()
        for at in range(0, len(batch), BATCH):
            async with pool.acquire() as conn, conn.transaction():
                await projections.record_batch(conn, batch[at : at + BATCH])
        spent += time.perf_counter() - started
        events += len(batch)
    return events, spent


async def timed(question: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """Median milliseconds of 5 answers, and the peak MB of Python memory in a sixth."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        await question()
        times.append((time.perf_counter() - started) * 1000)
    tracemalloc.start()
    await question()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return statistics.median(times), peak


async def measure(url: str, consignments: int) -> dict[str, Any]:
    pool = await create_pool(url, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn, Path(projections.__file__).parent / "migrations")
    events, spent = await record(pool, consignments)
    await pool.execute("ANALYZE")
    hanoi = populations()[0]

    async def folded() -> list[Consignment]:
        rows = await pool.fetch("SELECT facts FROM report_consignments")
        return [Consignment.model_validate(r["facts"]) for r in rows]

    async def live_dashboard() -> picture.Dashboard:
        tally = await queries.live_tally(pool, NOW)
        return picture.dashboard_from(tally, populations(), NOW, False, national_recipients())

    async def folded_dashboard() -> picture.Dashboard:
        return picture.dashboard(await folded(), populations(), NOW, False, national_recipients())

    async def live_province() -> reports.ProvinceSummary:
        part = await queries.live_recipient(pool, hanoi.code)
        return reports.province_summary_from(part, hanoi, NOW)

    async def folded_province() -> reports.ProvinceSummary:
        return reports.province_summary(await folded(), hanoi, NOW)

    async def as_of_dashboard() -> picture.Dashboard:
        tally = await queries.tally_as_of(pool, AS_OF, events)
        return picture.dashboard_from(tally, populations(), AS_OF, True, national_recipients())

    async def replayed_dashboard() -> picture.Dashboard:
        replayed = await folded_as_of(pool, AS_OF)
        return picture.dashboard(replayed, populations(), AS_OF, True, national_recipients())

    assert await live_dashboard() == await folded_dashboard()
    assert await as_of_dashboard() == await replayed_dashboard()
    assert await live_province() == await folded_province()
    figures: dict[str, Any] = {
        "consignments": consignments,
        "events": events,
        "record_events_per_s": round(events / spent),
        "stuck_items": (await live_dashboard()).stuck_total,
        "as_of_replayed_events": await pool.fetchval(
            """SELECT count(*) FROM report_events e JOIN report_consignments c
                 ON c.shipment_id = e.subject
               WHERE c.first_recorded_at <= $1 AND c.last_recorded_at > $1
                 AND e.recorded_at <= $1""",
            AS_OF,
        ),
        "as_of_events_before": await pool.fetchval(
            "SELECT count(*) FROM report_events WHERE recorded_at <= $1", AS_OF
        ),
    }
    for name, question in (
        ("dashboard_live", live_dashboard),
        ("dashboard_folded", folded_dashboard),
        ("province_live", live_province),
        ("province_folded", folded_province),
        ("dashboard_as_of", as_of_dashboard),
        ("dashboard_as_of_replayed", replayed_dashboard),
    ):
        ms, mb = await timed(question)
        figures[name] = {"median_ms": round(ms, 1), "peak_traced_mb": round(mb, 1)}
    reporting = Reporting(pool, "bench", events)

    async def shared() -> list[picture.Dashboard]:
        return await asyncio.gather(*(reporting.dashboard(None) for _ in range(10)))

    async def each_alone() -> list[picture.Dashboard]:
        return await asyncio.gather(*(live_dashboard() for _ in range(10)))

    for name, ten in (("ten_dashboards_shared", shared), ("ten_dashboards_each", each_alone)):
        ms, mb = await timed(ten)
        figures[name] = {"median_ms": round(ms, 1), "peak_traced_mb": round(mb, 1)}
    started = time.perf_counter()
    replayed = await projections.rebuild(pool)
    figures["rebuild_events_per_s"] = round(replayed / (time.perf_counter() - started))
    await pool.close()
    return figures


QUESTIONS = (
    "dashboard_live",
    "dashboard_folded",
    "province_live",
    "province_folded",
    "dashboard_as_of",
    "dashboard_as_of_replayed",
    "ten_dashboards_shared",
    "ten_dashboards_each",
)


def report(f: dict[str, Any]) -> None:
    print(f"{f['consignments']:,} consignments to 34 provinces, {f['events']:,} events")
    print(f"record (consumer's write path)  {f['record_events_per_s']:>8,} events/s")
    print(f"rebuild                         {f['rebuild_events_per_s']:>8,} events/s")
    print(f"{'question':32s}{'median':>10s}{'peak traced':>14s}")
    for name in QUESTIONS:
        q = f[name]
        print(f"{name:32s}{q['median_ms']:>8.1f}ms{q['peak_traced_mb']:>11.1f} MB")
    print(f"({f['stuck_items']:,} items are stuck, the oldest 1,000 listed; as_of replays")
    print(f" {f['as_of_replayed_events']:,} of the {f['as_of_events_before']:,} events before it)")


def main() -> None:
    consignments = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
    with tempfile.TemporaryDirectory() as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        postgres.start()
        try:
            postgres.create_database("bench")
            figures = asyncio.run(measure(postgres.database_url("bench"), consignments))
        finally:
            postgres.stop()
    report(figures)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
