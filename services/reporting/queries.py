"""What the reporting API and pages read: the folded consignments (live), the kept events
(``as_of`` and timelines), and the consumer's own parked and dead-lettered messages. The
only SELECTs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from services.reporting.domain.facts import Consignment
from services.reporting.domain.picture import StuckRow
from services.reporting.domain.replay import Recorded, fold
from shared.contracts.base import registry
from shared.decider import InvalidInput, NotFound
from shared.views import Db


async def live_consignments(db: Db, donor: str | None = None) -> list[Consignment]:
    rows = await db.fetch(
        "SELECT facts FROM report_consignments WHERE $1::text IS NULL OR donor = $1"
        " ORDER BY shipment_id",
        donor,
    )
    return [Consignment.model_validate(r["facts"]) for r in rows]


async def consignments_as_of(db: Db, cutoff: datetime, cap: int) -> list[Consignment]:
    """The consignments as reporting knew them at ``cutoff``: its kept events recorded up
    to then, folded again. Refuses to replay more than ``cap`` events."""
    rows = await db.fetch(
        "SELECT subject, event_type, data, recorded_at FROM report_events"
        " WHERE recorded_at <= $1 ORDER BY recorded_at, seq LIMIT $2",
        cutoff,
        cap + 1,
    )
    if len(rows) > cap:
        raise InvalidInput(
            f"as_of {cutoff.isoformat()} would replay more than {cap} events;"
            " ask for an earlier date, or leave as_of out for the live picture",
            field="as_of",
            code="as-of-too-many-events",
        )
    recorded = (
        Recorded(r["subject"], r["recorded_at"], registry.decode(r["event_type"], r["data"]))
        for r in rows
    )
    return sorted(fold(recorded).values(), key=lambda c: c.shipment_id)


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
