"""What the customs API and pages read: the ``clearance_cases`` projection and, for a case's
history, its events. The only SELECTs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator

from services.customs.domain import CaseStatus
from services.customs.domain.schedule import OfficeHours, clearance_target
from shared.contracts.values import Priority
from shared.decider import NotFound
from shared.eventstore import EventStore
from shared.http.pagination import Page, page_of
from shared.views import Db, JsonList, OptionalJsonList, View, decoded

PAGE_ROWS = 100
# A queue is worked oldest first; what is done is looked up newest first. Fixed SQL only.
QUEUE_ORDER = {
    # emergencies first, then what is expected soonest
    CaseStatus.AWAITING_ARRIVAL: "priority_rank DESC, expected_arrival, opened_at",
    # urgency: the consignment's priority, cold chain, the nearest expiry, arrival time
    CaseStatus.ARRIVED: (
        "priority_rank DESC, cold_chain DESC, nearest_expiry NULLS LAST, arrived_at, shipment_id"
    ),
    CaseStatus.CLEARED: "cleared_at DESC",
    CaseStatus.CLOSED: "closed_at DESC",
}


class LotBalanceView(BaseModel):
    """One lot: presented = released + refused + held + free."""

    line_no: int
    lot_number: str
    product: str
    presented: int
    released: int
    refused: int
    held: int
    free: int


class DocumentView(BaseModel):
    document: str
    required: bool
    status: str | None
    reason: str
    recorded_by: str | None = None
    recorded_at: datetime | None = None


class HoldView(BaseModel):
    hold_id: str
    reason: str
    lots: list[dict[str, Any]]
    note: str
    placed_by: str
    placed_at: datetime
    open: bool
    released_by: str | None
    released_at: datetime | None


class CaseDetail(BaseModel):
    """The case's papers, holds, examination and per-lot balance."""

    declaration: dict[str, Any] | None = None
    documents: list[DocumentView] = []
    missing_documents: list[str] = []
    permits: list[dict[str, Any]] = []
    lane: dict[str, Any] | None = None
    examination: dict[str, Any] | None = None
    holds: list[HoldView] = []
    lots: list[LotBalanceView] = []
    parts: list[int] = []
    releases: int = 0
    arrivals_completed: bool = False


class Clock(BaseModel):
    """Time since arrival against the clearance target. An open hold stops the displayed
    clock (``stopped``), never the target: a held case still becomes overdue."""

    elapsed_minutes: int
    target_at: datetime
    overdue: bool
    stopped: bool


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
    closure: str | None = None
    closed_at: datetime | None = None
    cold_chain: bool = False
    nearest_expiry: date | None = None
    partial_examination: bool = False
    out_of_hours: bool = False
    open_holds: int = 0
    clock_stopped_at: datetime | None = None
    presented_total: int = 0
    released_total: int = 0
    refused_total: int = 0
    held_total: int = 0
    priority: Priority = Priority.ROUTINE
    detail: Annotated[CaseDetail, BeforeValidator(decoded)] = CaseDetail()

    @property
    def received_total(self) -> int:
        return sum(int(lot["quantity"]) for lot in self.received or ())

    def clock_at(self, now: datetime, hours: OfficeHours) -> Clock | None:
        if self.arrived_at is None:
            return None
        target = clearance_target(self.arrived_at, self.partial_examination, hours)
        done = self.cleared_at if self.status is CaseStatus.CLEARED else self.closed_at
        end = self.clock_stopped_at or done or now
        return Clock(
            elapsed_minutes=max(0, (end - self.arrived_at) // timedelta(minutes=1)),
            target_at=target,
            overdue=(done or now) > target,
            stopped=self.clock_stopped_at is not None,
        )


class HistoryEntry(BaseModel):
    """One event of a case's history, with who did it."""

    version: int
    event_type: str
    recorded_at: datetime
    actor: str | None
    data: dict[str, Any]


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
    priority: Priority | None = None,
) -> Page[CaseView]:
    """The clearance cases at these airports (all when None), oldest first, after a cursor."""
    rows = await db.fetch(
        """SELECT * FROM clearance_cases
           WHERE ($1::text[] IS NULL OR airport = ANY($1)) AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (opened_at, shipment_id) > ($3, $4::uuid))
             AND ($6::text IS NULL OR priority = $6)
           ORDER BY opened_at, shipment_id LIMIT $5""",
        airports,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
        priority,
    )
    views = [CaseView.of(row) for row in rows]
    return page_of(views, limit, lambda c: (c.opened_at, c.shipment_id))


async def queue(
    db: Db, status: CaseStatus, airports: Sequence[str] | None, priority: Priority | None = None
) -> list[CaseView]:
    """The officers' queue of one status (of one priority, if given), in the order it is worked."""
    rows = await db.fetch(
        "SELECT * FROM clearance_cases WHERE status = $1"
        " AND ($2::text[] IS NULL OR airport = ANY($2)) AND ($3::text IS NULL OR priority = $3)"
        f" ORDER BY {QUEUE_ORDER[status]} LIMIT {PAGE_ROWS}",
        status,
        airports,
        priority,
    )
    return [CaseView.of(row) for row in rows]


async def history(db: Db, shipment_id: UUID, store: EventStore) -> list[HistoryEntry]:
    """Every event of the case from the event store, oldest first, with its actor."""
    records = await store.load(db, str(shipment_id))
    return [
        HistoryEntry(
            version=r.stream_version,
            event_type=r.event_type,
            recorded_at=r.recorded_at,
            actor=r.metadata.get("actor"),
            data={k: v for k, v in r.data.items() if k != "shipment_id"},
        )
        for r in records
    ]
