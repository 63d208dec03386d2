"""What the customs API and pages read: the ``clearance_cases`` projection. The only SELECTs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from services.customs.domain import CaseStatus
from shared.decider import NotFound
from shared.http.pagination import Page, page_of
from shared.views import Db, JsonList, OptionalJsonList, View

PAGE_ROWS = 100
# A queue is worked oldest first; what is done is looked up newest first. Fixed SQL only.
QUEUE_ORDER = {
    CaseStatus.AWAITING_ARRIVAL: "expected_arrival, opened_at",
    CaseStatus.ARRIVED: "arrived_at, opened_at",
    CaseStatus.CLEARED: "cleared_at DESC",
}


class CaseView(View):
    shipment_id: UUID
    airport: str
    donor: str
    channel: str
    airway_bill: str
    expected_arrival: datetime
    status: CaseStatus
    lines: JsonList
    received: OptionalJsonList
    opened_at: datetime
    arrived_at: datetime | None
    cleared_at: datetime | None
    cleared_by: str | None
    declaration_number: str | None
    lane: str | None
    examination: str | None
    remarks: str | None
    cleared_lines: OptionalJsonList

    @property
    def received_total(self) -> int:
        return sum(int(lot["quantity"]) for lot in self.received or ())


async def case(db: Db, shipment_id: UUID) -> CaseView | None:
    row = await db.fetchrow("SELECT * FROM clearance_cases WHERE shipment_id = $1", shipment_id)
    return None if row is None else CaseView.of(row)


async def existing_case(db: Db, shipment_id: UUID) -> CaseView:
    found = await case(db, shipment_id)
    if found is None:
        raise NotFound(f"no clearance case for shipment {shipment_id}", code="case-not-found")
    return found


async def cases_page(
    db: Db,
    airports: Sequence[str] | None,
    status: CaseStatus | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> Page[CaseView]:
    """The clearance cases at these airports (all when None), oldest first, after a cursor."""
    rows = await db.fetch(
        """SELECT * FROM clearance_cases
           WHERE ($1::text[] IS NULL OR airport = ANY($1)) AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (opened_at, shipment_id) > ($3, $4::uuid))
           ORDER BY opened_at, shipment_id LIMIT $5""",
        airports,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    views = [CaseView.of(row) for row in rows]
    return page_of(views, limit, lambda c: (c.opened_at, c.shipment_id))


async def queue(db: Db, status: CaseStatus, airports: Sequence[str] | None) -> list[CaseView]:
    """The officers' queue of one status, in the order it is worked."""
    rows = await db.fetch(
        "SELECT * FROM clearance_cases WHERE status = $1"
        " AND ($2::text[] IS NULL OR airport = ANY($2))"
        f" ORDER BY {QUEUE_ORDER[status]} LIMIT {PAGE_ROWS}",
        status,
        airports,
    )
    return [CaseView.of(row) for row in rows]
