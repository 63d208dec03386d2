"""What the intake API and pages read: the ``shipments`` projection. The only SELECTs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from services.intake.domain import ShipmentStatus
from shared.decider import NotFound
from shared.http.pagination import Page, page_of
from shared.views import Db, JsonList, OptionalJsonList, View

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
    arrived_at: datetime | None


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
