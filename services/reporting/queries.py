"""What the reporting API and pages read: the live picture added up from the stored
standings, a donor's folded consignments, the kept events (``as_of`` and timelines), and
the consumer's own parked and dead-lettered messages. The only SELECTs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from services.reporting.domain import measures as m
from services.reporting.domain.facts import Consignment
from services.reporting.domain.picture import (
    STUCK_LISTED,
    ProductRow,
    RecipientTally,
    StepTally,
    StuckRow,
    Tally,
    TotalRow,
    products_in_order,
    stuck_in_order,
)
from services.reporting.domain.replay import Recorded, fold
from services.reporting.domain.reports import RecipientPart
from services.reporting.domain.standing import NoticeRow, RejectionRow, standing
from services.reporting.standing_rows import as_records
from shared.contracts.base import registry
from shared.db import Conn
from shared.decider import InvalidInput, NotFound
from shared.views import Db


@contextlib.asynccontextmanager
async def _snapshot(db: Db) -> AsyncIterator[Conn]:
    """One consistent view for a question asked in several statements."""
    if not isinstance(db, asyncpg.Pool):
        yield db
        return
    async with db.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        yield conn


async def live_tally(db: Db, now: datetime, stuck_limit: int | None = STUCK_LISTED) -> Tally:
    """The national picture at ``now``, added up in SQL from the stored standings; of the
    stuck items, the oldest ``stuck_limit`` (None: all)."""
    async with _snapshot(db) as conn:
        return await _tally(conn, now, None, stuck_limit)


async def tally_as_of(
    db: Db, cutoff: datetime, cap: int, stuck_limit: int | None = STUCK_LISTED
) -> Tally:
    """The national picture as it stood at ``cutoff`` (see ``Replayed``)."""
    async with _snapshot(db) as conn:
        return await _tally(conn, cutoff, await _replayed(conn, cutoff, cap), stuck_limit)


async def live_recipient(db: Db, code: str) -> RecipientPart:
    """What one province or national recipient got, from the stored standings."""
    async with _snapshot(db) as conn:
        return await _recipient_part(conn, code, None)


async def recipient_as_of(db: Db, code: str, cutoff: datetime, cap: int) -> RecipientPart:
    async with _snapshot(db) as conn:
        return await _recipient_part(conn, code, await _replayed(conn, cutoff, cap))


@dataclass(frozen=True)
class Replayed:
    """The consignments as they stood at ``cutoff``: the stored standings of those whose
    events had all been recorded by then (a consignment's facts fold to the same whatever
    the order of its events), and ``records`` of each table for those still changing then,
    derived from their events up to ``cutoff``. Later consignments are left out."""

    cutoff: datetime
    records: dict[str, list[dict[str, Any]]]


async def _replayed(conn: Conn, cutoff: datetime, cap: int) -> Replayed:
    standings = [standing(c) for c in await _changing(conn, cutoff, cap)]
    return Replayed(cutoff, as_records(standings))


async def _changing(conn: Conn, cutoff: datetime, cap: int) -> list[Consignment]:
    """The consignments still changing at ``cutoff``, folded from their events up to then
    (with any saved without the times of its events, by a replica of older code); refuses to
    replay more than ``cap`` events (the question is too heavy to answer)."""
    rows = await conn.fetch(
        """SELECT subject, event_type, data, recorded_at FROM report_events
           WHERE subject IN (SELECT shipment_id FROM report_consignments
                             WHERE first_recorded_at <= $1 AND last_recorded_at > $1
                                OR last_recorded_at IS NULL)  -- saved by older code
             AND recorded_at <= $1
           ORDER BY recorded_at, seq LIMIT $2""",
        cutoff,
        cap + 1,
    )
    if len(rows) > cap:
        raise InvalidInput(
            f"as_of {cutoff.isoformat()} would replay more than {cap} events of the"
            " consignments still changing then; ask for another moment, or leave as_of out"
            " for the live picture",
            field="as_of",
            code="as-of-too-many-events",
        )
    recorded = (
        Recorded(r["subject"], r["recorded_at"], registry.decode(r["event_type"], r["data"]))
        for r in rows
    )
    return list(fold(recorded).values())


def _rows(table: str, replayed: Replayed | None, args: list[Any]) -> str:
    """What a query reads as ``table``: the table (live), or its rows at the replayed moment.
    The parameters that needs are appended to ``args``."""
    if replayed is None:
        return table
    args += [replayed.cutoff, replayed.records[table]]
    cutoff, records = f"${len(args) - 1}", f"${len(args)}"
    settled = f"last_recorded_at <= {cutoff}"
    if table != "report_consignments":
        settled = f"shipment_id IN (SELECT shipment_id FROM report_consignments WHERE {settled})"
    return f"""(SELECT * FROM {table} WHERE {settled}
                UNION ALL SELECT * FROM jsonb_populate_recordset(NULL::{table}, {records}::jsonb)
               ) AS {table}"""


async def _tally(
    conn: Conn, now: datetime, replayed: Replayed | None, stuck_limit: int | None
) -> Tally:
    stuck, stuck_total = await _stuck(conn, now, replayed, stuck_limit)
    return Tally(
        stages=await _stages(conn, replayed),
        steps=await _steps(conn, replayed),
        recipients=await _recipients(conn, None, replayed),
        totals=await _totals(conn, replayed),
        products=await _products(conn, replayed),
        stuck=stuck,
        stuck_total=stuck_total,
    )


async def _stages(conn: Conn, replayed: Replayed | None) -> dict[m.Stage, tuple[int, int]]:
    args: list[Any] = []
    rows = await conn.fetch(
        "SELECT stage, count(*) AS n, sum(current_doses)::bigint AS doses"
        f" FROM {_rows('report_consignments', replayed, args)} WHERE counted GROUP BY stage",
        *args,
    )
    return {m.Stage(r["stage"]): (r["n"], r["doses"]) for r in rows}


async def _steps(conn: Conn, replayed: Replayed | None) -> dict[m.Step, StepTally]:
    args: list[Any] = []
    rows = await conn.fetch(
        f"""SELECT step, count(*) AS n, count(*) FILTER (WHERE within_target) AS within,
                  percentile_disc(0.5) WITHIN GROUP (ORDER BY hours) AS p50,
                  percentile_disc(0.9) WITHIN GROUP (ORDER BY hours) AS p90
           FROM {_rows("report_lead_times", replayed, args)} GROUP BY step""",
        *args,
    )
    args = []
    bars: dict[str, dict[int, int]] = {}
    for r in await conn.fetch(
        "SELECT step, bucket, count(*) AS n"
        f" FROM {_rows('report_lead_times', replayed, args)} GROUP BY step, bucket",
        *args,
    ):
        bars.setdefault(r["step"], {})[r["bucket"]] = r["n"]
    return {
        m.Step(r["step"]): StepTally(r["n"], r["within"], r["p50"], r["p90"], bars[r["step"]])
        for r in rows
    }


async def _recipients(
    conn: Conn, code: str | None, replayed: Replayed | None
) -> dict[str, RecipientTally]:
    args: list[Any] = [code]
    rows = await conn.fetch(
        f"""SELECT recipient, sum(quantity)::bigint AS allocated,
                  sum(coalesce(accepted, 0))::bigint AS accepted,
                  coalesce(sum(accepted) FILTER (WHERE received_at IS NOT NULL), 0)::bigint
                      AS received,
                  bool_or(received_at IS NOT NULL) AS any_receipt
           FROM {_rows("report_notices", replayed, args)}
           WHERE doses AND ($1::text IS NULL OR recipient = $1)
           GROUP BY recipient""",
        *args,
    )
    return {
        r["recipient"]: RecipientTally(
            r["allocated"], r["accepted"], r["received"], r["any_receipt"]
        )
        for r in rows
    }


async def _totals(conn: Conn, replayed: Replayed | None) -> list[tuple[str, str, TotalRow]]:
    args: list[Any] = []
    rows = await conn.fetch(
        f"""SELECT donor, channel, count(*) AS n, sum(announced_doses)::bigint AS announced,
                  sum(released_doses)::bigint AS released,
                  sum(allocated_doses)::bigint AS allocated,
                  sum(received_doses)::bigint AS received
           FROM {_rows("report_consignments", replayed, args)}
           WHERE in_totals GROUP BY donor, channel""",
        *args,
    )
    return [
        (
            r["donor"],
            r["channel"],
            TotalRow(
                key="",
                consignments=r["n"],
                announced_doses=r["announced"],
                released_doses=r["released"],
                allocated_doses=r["allocated"],
                received_doses=r["received"],
            ),
        )
        for r in rows
    ]


async def _products(conn: Conn, replayed: Replayed | None) -> list[ProductRow]:
    args: list[Any] = []
    rows = await conn.fetch(
        f"""SELECT product, category, unit, sum(announced)::bigint AS announced,
                  sum(released)::bigint AS released, sum(allocated)::bigint AS allocated,
                  sum(received)::bigint AS received
           FROM {_rows("report_lines", replayed, args)} GROUP BY product, category, unit""",
        *args,
    )
    return products_in_order(ProductRow(**dict(r)) for r in rows)


async def _stuck(
    conn: Conn, now: datetime, replayed: Replayed | None, limit: int | None
) -> tuple[list[StuckRow], int]:
    """The oldest ``limit`` stuck items (None: all) in ``stuck_in_order``'s order (text
    compared by code point, as Python does), and how many there are."""
    args: list[Any] = [now]
    deadlines = _rows("report_deadlines", replayed, args)
    total: int = await conn.fetchval(
        f"SELECT count(*) FROM {deadlines} WHERE stuck_from <= $1", *args
    )
    rows = await conn.fetch(
        f"""SELECT shipment_id, n, kind, reference, since, detail FROM {deadlines}
            WHERE stuck_from <= $1
            ORDER BY since, kind COLLATE "C", reference COLLATE "C", shipment_id COLLATE "C", n
            LIMIT ${len(args) + 1}""",
        *args,
        limit,
    )
    listed = stuck_in_order(
        (
            r["shipment_id"],
            r["n"],
            m.Stuck(r["kind"], r["shipment_id"], r["reference"], r["since"], r["detail"]),
        )
        for r in rows
    )
    return listed, total


async def _recipient_part(conn: Conn, code: str, replayed: Replayed | None) -> RecipientPart:
    tally = (await _recipients(conn, code, replayed)).get(code, RecipientTally())
    args: list[Any] = [code]
    notices = await conn.fetch(
        "SELECT shipment_id, notice_number, recipient, donor, product, unit, doses,"
        " quantity, accepted, allocated_at, acknowledged_at, dispatched_at, received_at"
        f" FROM {_rows('report_notices', replayed, args)} WHERE recipient = $1",
        *args,
    )
    args = [code]
    rejections = await conn.fetch(
        "SELECT shipment_id, n, at, product, reason, quantity, note"
        f" FROM {_rows('report_rejections', replayed, args)} WHERE at = $1",
        *args,
    )
    in_order = sorted(rejections, key=lambda r: (r["shipment_id"], r["n"]))
    return RecipientPart(
        tally=tally,
        notices=[NoticeRow(**dict(r)) for r in notices],
        rejections=[
            RejectionRow(r["at"], r["product"], r["reason"], r["quantity"], r["note"])
            for r in in_order
        ],
    )


async def donor_consignments(db: Db, donor: str) -> list[Consignment]:
    """The donor's consignments, folded: a donor report shows each of them."""
    rows = await db.fetch(
        "SELECT facts FROM report_consignments WHERE donor = $1 ORDER BY shipment_id", donor
    )
    return [Consignment.model_validate(r["facts"]) for r in rows]


async def donor_consignments_as_of(
    db: Db, donor: str, cutoff: datetime, cap: int
) -> list[Consignment]:
    """The donor's consignments as they stood at ``cutoff`` (see ``Replayed``): the donor
    of one still changing then is the donor it had then."""
    async with _snapshot(db) as conn:
        rows = await conn.fetch(
            "SELECT facts FROM report_consignments WHERE donor = $1 AND last_recorded_at <= $2",
            donor,
            cutoff,
        )
        settled = [Consignment.model_validate(r["facts"]) for r in rows]
        changing = [c for c in await _changing(conn, cutoff, cap) if c.donor == donor]
    return sorted([*settled, *changing], key=lambda c: c.shipment_id)


async def one_consignment(db: Db, shipment_id: UUID, cutoff: datetime | None) -> Consignment:
    rows = await db.fetch(
        "SELECT subject, event_type, data, recorded_at FROM report_events"
        " WHERE subject = $1 AND ($2::timestamptz IS NULL OR recorded_at <= $2)"
        " ORDER BY recorded_at, seq",
        str(shipment_id),
        cutoff,
    )
    if not rows:
        raise NotFound(f"no consignment {shipment_id}", field="id", code="shipment-not-found")
    recorded = [
        Recorded(r["subject"], r["recorded_at"], registry.decode(r["event_type"], r["data"]))
        for r in rows
    ]
    return fold(recorded)[str(shipment_id)]


class TimelineEntry(BaseModel):
    recorded_at: datetime
    service: str
    event: str
    version: str
    actor: str | None
    data: dict[str, Any]


class Timeline(BaseModel):
    shipment_id: UUID
    as_of: datetime | None
    events: list[TimelineEntry]


MAX_TIMELINE = 2000
"""Events of one consignment shown at most (a consignment has a few dozen)."""


async def timeline(db: Db, shipment_id: UUID, cutoff: datetime | None) -> Timeline:
    rows = await db.fetch(
        "SELECT event_type, source, actor, data, recorded_at FROM report_events"
        " WHERE subject = $1 AND ($2::timestamptz IS NULL OR recorded_at <= $2)"
        " ORDER BY recorded_at, seq LIMIT $3",
        str(shipment_id),
        cutoff,
        MAX_TIMELINE,
    )
    if not rows:
        raise NotFound(f"no consignment {shipment_id}", field="id", code="shipment-not-found")
    entries = []
    for r in rows:
        _, service, name, version = r["event_type"].split(".", 3)
        entries.append(
            TimelineEntry(
                recorded_at=r["recorded_at"],
                service=service,
                event=name,
                version=version,
                actor=r["actor"],
                data=r["data"],
            )
        )
    return Timeline(shipment_id=shipment_id, as_of=cutoff, events=entries)


async def donor_names(db: Db) -> list[str]:
    rows = await db.fetch(
        "SELECT DISTINCT donor FROM report_consignments WHERE donor <> '' ORDER BY donor"
    )
    return [r["donor"] for r in rows]


async def pipeline_problems(db: Db, group: str) -> list[StuckRow]:
    """Reporting's own parked and dead-lettered messages: facts it could not take in."""
    parked = await db.fetch(
        "SELECT subject, event_type, error, parked_at FROM parked_messages"
        " WHERE consumer_group = $1 ORDER BY id LIMIT 100",
        group,
    )
    dead = await db.fetch(
        "SELECT topic, partition, kafka_offset, reason, dead_at FROM dead_letters"
        " WHERE consumer_group = $1 AND resolved_at IS NULL ORDER BY id LIMIT 100",
        group,
    )
    rows = [
        StuckRow(
            kind="parked",
            shipment_id=r["subject"],
            reference=r["event_type"],
            since=r["parked_at"],
            detail=r["error"][:200],
        )
        for r in parked
    ]
    rows += [
        StuckRow(
            kind="dead_letter",
            shipment_id="",
            reference=f"{r['topic']}/{r['partition']}@{r['kafka_offset']}",
            since=r["dead_at"],
            detail=r["reason"][:200],
        )
        for r in dead
    ]
    return rows
