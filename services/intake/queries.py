"""What the intake API and pages read: the ``shipments`` projection. The only SELECTs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from services.intake.domain import ShipmentStatus
from shared.contracts.values import Priority
from shared.decider import NotFound
from shared.http.pagination import Page, page_of
from shared.views import Db, JsonList, OptionalJsonList, View, decoded

PAGE_ROWS = 100  # what a page shows; the API pages with cursors


class ShipmentView(View):
    shipment_id: UUID
    donor: str
    channel: str
    airport: str
    flight: str
    airway_bill: str
    expected_arrival: datetime
    consignee: str
    status: ShipmentStatus
    lines: JsonList
    received: OptionalJsonList
    remarks: str | None
    announced_at: datetime
    announced_by: str | None
    arrived_at: datetime | None = Field(description="when the first part landed")
    parts_count: int = 0
    closed_at: datetime | None = None
    closed_by: str | None = None
    accepted: OptionalJsonList = Field(None, description="per line, what went on to customs")
    shortages: OptionalJsonList = Field(None, description="short shipments found at closing")
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    amended_at: datetime | None = None
    priority: Priority = Priority.ROUTINE


class PartView(View):
    part_no: int
    flight: str
    arrived_at: datetime
    entered_cold_store_at: datetime | None
    lots: JsonList
    discrepancies: JsonList
    recorded_by: str | None
    remarks: str


class ArrivalReportView(View):
    shipment_id: UUID
    part_no: int
    line_no: int
    airport: str
    airway_bill: str
    product: str
    arrived_at: datetime
    due_at: datetime
    filed_at: datetime | None
    report: dict[str, Any] | None = Field(None, description="the VAR as filed")

    @field_validator("report", mode="before")
    @classmethod
    def _decoded(cls, value: Any) -> Any:
        return decoded(value)


class ShipmentDetail(ShipmentView):
    """A consignment with its arrival parts and its VARs."""

    parts: list[PartView] = Field(default_factory=list)
    arrival_reports: list[ArrivalReportView] = Field(default_factory=list)


class HistoryEntry(BaseModel):
    """One recorded change: what happened, who did it, when."""

    version: int
    event_type: str
    recorded_at: datetime
    actor: str | None
    actor_role: str | None
    data: dict[str, Any]


async def shipment(db: Db, shipment_id: UUID) -> ShipmentView | None:
    row = await db.fetchrow("SELECT * FROM shipments WHERE shipment_id = $1", shipment_id)
    return None if row is None else ShipmentView.of(row)


async def existing_shipment(db: Db, shipment_id: UUID) -> ShipmentView:
    found = await shipment(db, shipment_id)
    if found is None:
        raise NotFound(f"no shipment {shipment_id}", code="shipment-not-found")
    return found


async def shipments_page(
    db: Db,
    airports: Sequence[str] | None,
    status: ShipmentStatus | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> Page[ShipmentView]:
    """Consignments at these airports (all when None), newest first, after a cursor."""
    rows = await db.fetch(
        """SELECT * FROM shipments
           WHERE ($1::text[] IS NULL OR airport = ANY($1))
             AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (announced_at, shipment_id) < ($3, $4::uuid))
           ORDER BY announced_at DESC, shipment_id DESC LIMIT $5""",
        airports,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    views = [ShipmentView.of(row) for row in rows]
    return page_of(views, limit, lambda s: (s.announced_at, s.shipment_id))


async def latest_shipments(db: Db, airports: Sequence[str] | None) -> list[ShipmentView]:
    """The newest consignments at these airports (all when None), for the officers' page."""
    rows = await db.fetch(
        "SELECT * FROM shipments WHERE ($1::text[] IS NULL OR airport = ANY($1))"
        f" ORDER BY announced_at DESC, shipment_id DESC LIMIT {PAGE_ROWS}",
        airports,
    )
    return [ShipmentView.of(row) for row in rows]


async def shipment_detail(db: Db, shipment_id: UUID) -> ShipmentDetail:
    found = await existing_shipment(db, shipment_id)
    parts = await db.fetch(
        "SELECT * FROM shipment_parts WHERE shipment_id = $1 ORDER BY part_no", shipment_id
    )
    reports = await db.fetch(
        "SELECT * FROM arrival_reports WHERE shipment_id = $1 ORDER BY part_no, line_no",
        shipment_id,
    )
    return ShipmentDetail(
        **found.model_dump(),
        parts=[PartView.of(row) for row in parts],
        arrival_reports=[ArrivalReportView.of(row) for row in reports],
    )


async def overdue_reports(
    db: Db, airports: Sequence[str] | None, now: datetime
) -> list[ArrivalReportView]:
    """VARs not filed by their due time, at these airports (all when None), oldest first."""
    rows = await db.fetch(
        "SELECT * FROM arrival_reports WHERE filed_at IS NULL AND due_at < $2"
        " AND ($1::text[] IS NULL OR airport = ANY($1))"
        f" ORDER BY due_at, shipment_id, part_no, line_no LIMIT {PAGE_ROWS}",
        airports,
        now,
    )
    return [ArrivalReportView.of(row) for row in rows]


async def history(db: Db, shipment_id: UUID) -> list[HistoryEntry]:
    """Every event of the consignment's stream, in order, with who recorded it."""
    rows = await db.fetch(
        "SELECT stream_version, event_type, recorded_at, data, metadata FROM events"
        " WHERE stream_id = $1 ORDER BY stream_version",
        str(shipment_id),
    )
    entries = []
    for row in rows:
        metadata = decoded(row["metadata"]) or {}
        entries.append(
            HistoryEntry(
                version=row["stream_version"],
                event_type=row["event_type"],
                recorded_at=row["recorded_at"],
                actor=metadata.get("actor"),
                actor_role=metadata.get("actor_role"),
                data=decoded(row["data"]),
            )
        )
    return entries
