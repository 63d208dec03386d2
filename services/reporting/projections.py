"""``report_events`` and ``report_consignments``: what reporting does with a consumed event.

Each event is kept as received (type, subject, data, actor, ``ce_time``) and folded into
its consignment's facts with the pure ``evolve``, in the consumer's transaction. The event
id is unique in ``report_events``, so a redelivered event changes nothing. With the facts,
the consignment's standing (``domain/standing.py``) replaces its rows in the tables the live
picture adds up. A commit NOTIFYs ``aidport_reporting`` so the live dashboards on every
replica refresh.

``rebuild`` folds ``report_events`` again, each consignment's in the order they were
consumed, into fresh facts: the rebuilt table equals the incrementally built one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import groupby
from operator import itemgetter

import asyncpg

from services.reporting.domain.facts import Consignment, evolve, new_consignment
from services.reporting.domain.measures import lead_times
from services.reporting.domain.replay import Recorded, fold
from services.reporting.domain.standing import STANDING_VERSION, Standing, standing
from services.reporting.standing_rows import SUMMARY_COLUMNS, TABLES, rows_of, summaries
from shared.contracts.base import registry
from shared.db import Conn, without_statement_timeout
from shared.envelope import Envelope
from shared.observability import LEAD_TIME
from shared.runtime import Runtime

REPORTING_CHANNEL = "aidport_reporting"
REBUILD_PAGE = 10_000
REFRESH_PAGE = 500
log = logging.getLogger(__name__)


async def record(conn: Conn, envelope: Envelope) -> None:
    """Keep the event and fold it into its consignment (once, whatever the redeliveries)."""
    seq = await conn.fetchval(
        """INSERT INTO report_events (event_id, event_type, source, subject, actor, data,
               recorded_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING RETURNING seq""",
        envelope.id,
        envelope.type,
        envelope.source,
        envelope.subject,
        envelope.actor,
        envelope.data,
        envelope.time,
    )
    if seq is None:
        return
    facts = await conn.fetchval(
        "SELECT facts FROM report_consignments WHERE shipment_id = $1 FOR UPDATE",
        envelope.subject,
    )
    before = Consignment.model_validate(facts) if facts else new_consignment(envelope.subject)
    after = evolve(before, envelope.event, envelope.time)
    await _save(conn, after, seq)
    _observe_new_lead_times(before, after)
    await conn.execute("SELECT pg_notify($1, $2)", REPORTING_CHANNEL, envelope.subject)


async def record_batch(conn: Conn, envelopes: Sequence[Envelope]) -> None:
    """``record`` for a whole batch: one INSERT of the events, one read of the consignments
    they touch, one upsert of the folded facts and one NOTIFY per consignment."""
    kept = await conn.fetch(
        """INSERT INTO report_events (event_id, event_type, source, subject, actor, data,
               recorded_at)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
               $6::jsonb[], $7::timestamptz[])
           ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq""",
        [e.id for e in envelopes],
        [e.type for e in envelopes],
        [e.source for e in envelopes],
        [e.subject for e in envelopes],
        [e.actor for e in envelopes],
        [e.data for e in envelopes],
        [e.time for e in envelopes],
    )
    seqs = {r["event_id"]: r["seq"] for r in kept}
    fresh = [e for e in envelopes if e.id in seqs]
    if not fresh:
        return
    subjects = sorted({e.subject for e in fresh})
    rows = await conn.fetch(
        "SELECT shipment_id, facts FROM report_consignments WHERE shipment_id = ANY($1::text[])"
        " ORDER BY shipment_id FOR UPDATE",
        subjects,
    )
    before = {r["shipment_id"]: Consignment.model_validate(r["facts"]) for r in rows}
    after = dict(before)
    last: dict[str, int] = {}
    for e in fresh:
        current = after.get(e.subject) or new_consignment(e.subject)
        after[e.subject] = evolve(current, e.event, e.time)
        last[e.subject] = seqs[e.id]
    await _save_all(conn, [(after[s], last[s]) for s in subjects])
    for subject in subjects:
        _observe_new_lead_times(before.get(subject) or new_consignment(subject), after[subject])
    await conn.execute(
        "SELECT pg_notify($1, s) FROM unnest($2::text[]) AS s", REPORTING_CHANNEL, subjects
    )


async def _save(conn: Conn, c: Consignment, seq: int) -> None:
    await _save_all(conn, [(c, seq)])


async def _save_all(conn: Conn, folded: Sequence[tuple[Consignment, int]]) -> None:
    """The consignments' facts and standings; with the span of their events' times, which
    tells an ``as_of`` question whether a consignment had stopped changing by then."""
    standings = [standing(c) for c, _ in folded]
    summary_types = ("bool", "bool", "text", "text", *("bigint",) * 5)
    summary = ", ".join(f"${i}::{t}[]" for i, t in enumerate(summary_types, start=6))
    await conn.execute(
        f"""INSERT INTO report_consignments (shipment_id, donor, facts, last_seq,
               standing_version, {", ".join(SUMMARY_COLUMNS)}, first_recorded_at,
               last_recorded_at)
           SELECT c.*, span.first, span.last
           FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $5::int[],
                       {summary}) AS c(shipment_id)
           CROSS JOIN LATERAL (
               SELECT min(recorded_at) AS first, max(recorded_at) AS last FROM report_events
               WHERE subject = c.shipment_id) AS span
           ON CONFLICT (shipment_id) DO UPDATE
           SET donor = EXCLUDED.donor, facts = EXCLUDED.facts, last_seq = EXCLUDED.last_seq,
               standing_version = EXCLUDED.standing_version,
               {", ".join(f"{c} = EXCLUDED.{c}" for c in SUMMARY_COLUMNS)},
               first_recorded_at = EXCLUDED.first_recorded_at,
               last_recorded_at = EXCLUDED.last_recorded_at""",
        [c.shipment_id for c, _ in folded],
        [c.donor for c, _ in folded],
        [c.model_dump(mode="json") for c, _ in folded],
        [seq for _, seq in folded],
        [STANDING_VERSION] * len(folded),
        *zip(*summaries(standings), strict=True),
    )
    await _replace_rows(conn, standings)


async def _replace_rows(conn: Conn, standings: Sequence[Standing]) -> None:
    """The consignments' rows in every standing table: the old deleted, the new inserted."""
    deletes = ", ".join(
        f"{table} AS (DELETE FROM {table} WHERE shipment_id = ANY($1::text[]))" for table in TABLES
    )
    await conn.execute(f"WITH {deletes} SELECT 1", [s.shipment_id for s in standings])
    for table, rows in rows_of(standings).items():
        if rows:
            types = (t for _, t in TABLES[table])
            arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, start=1))
            columns = zip(*rows, strict=True)
            await conn.execute(f"INSERT INTO {table} SELECT * FROM unnest({arrays})", *columns)


async def derive_missing_standings(runtime: Runtime, page: int = REFRESH_PAGE) -> None:
    """Derive the standing of every consignment saved by an older version of this code (or
    before standings were stored, or without its events' times) from its stored facts, a page
    at a time; once at start."""
    derived, after = 0, ""
    while True:
        async with runtime.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT shipment_id, facts, last_seq FROM report_consignments"
                " WHERE (standing_version <> $1 OR last_recorded_at IS NULL)"
                " AND shipment_id > $3"  # each once, even one that stays without times
                " ORDER BY shipment_id LIMIT $2 FOR UPDATE SKIP LOCKED",
                STANDING_VERSION,
                page,
                after,
            )
            if not rows:
                break
            folded = [(Consignment.model_validate(r["facts"]), r["last_seq"]) for r in rows]
            await _save_all(conn, folded)
            derived += len(rows)
            after = rows[-1]["shipment_id"]
    if derived:
        log.info(
            "derived the standing of %d consignments saved before version %d",
            derived,
            STANDING_VERSION,
        )


def _observe_new_lead_times(before: Consignment, after: Consignment) -> None:
    """Each completed lead time once, for Prometheus (``aidport_lead_time_seconds``)."""
    seen = list(lead_times(before))
    for step, duration in lead_times(after):
        if (step, duration) in seen:
            seen.remove((step, duration))
            continue
        LEAD_TIME.labels(step.value).observe(max(duration.total_seconds(), 0.0))


async def rebuild(pool: asyncpg.Pool, page: int = REBUILD_PAGE) -> int:
    """Fold every kept event again and swap the facts in; returns the events replayed.

    Consignment by consignment: the events are read in pages ordered by subject, then in
    consumption order, so that only a page of them (and the consignment it ends in) is held
    at once, however many were kept. Writers (the consumer) wait on the table lock; readers
    see the old facts until the commit."""
    async with pool.acquire() as conn, conn.transaction():
        await without_statement_timeout(conn)
        await conn.execute("LOCK TABLE report_consignments IN SHARE ROW EXCLUSIVE MODE")
        await conn.execute("DELETE FROM report_consignments")
        for table in TABLES:
            await conn.execute(f"DELETE FROM {table}")
        replayed = 0
        after = ("", 0)
        pending: list[asyncpg.Record] = []
        while rows := await _page(conn, after, page):
            after = (rows[-1]["subject"], rows[-1]["seq"])
            runs = [list(run) for _, run in groupby([*pending, *rows], itemgetter("subject"))]
            pending = runs.pop()  # the page's last consignment may go on in the next page
            replayed += await _refold(conn, runs)
        return replayed + await _refold(conn, [pending] if pending else [])


async def _refold(conn: Conn, runs: Sequence[Sequence[asyncpg.Record]]) -> int:
    """Save each consignment folded from its whole run of events; returns the events."""
    if runs:
        await _save_all(conn, [(_folded(run), run[-1]["seq"]) for run in runs])
    return sum(len(run) for run in runs)


def _folded(run: Sequence[asyncpg.Record]) -> Consignment:
    subject = run[0]["subject"]
    events = (
        Recorded(subject, r["recorded_at"], registry.decode(r["event_type"], r["data"]))
        for r in run
    )
    return fold(events)[subject]


async def _page(conn: Conn, after: tuple[str, int], limit: int) -> Sequence[asyncpg.Record]:
    return await conn.fetch(
        "SELECT seq, event_type, subject, data, recorded_at FROM report_events"
        " WHERE (subject, seq) > ($1, $2) ORDER BY subject, seq LIMIT $3",
        *after,
        limit,
    )
