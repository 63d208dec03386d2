"""What the allocation API and pages read: ``allocation_rounds`` and ``notices``. The only
SELECTs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import Field, TypeAdapter, computed_field

from services.allocation.domain import NoticeStatus, RoundStatus
from services.allocation.domain.changes import apply_changes
from services.allocation.domain.notices import SEVEN_DAYS_SECONDS
from shared.contracts.allocation import DraftLine, QuantityChange
from shared.decider import InvalidInput, NotFound
from shared.http.pagination import Page, page_of
from shared.views import Db, JsonList, OptionalJsonList, View

PAGE_ROWS = 100
ROUNDS_ON_PAGE = 50


class NoticeView(View):
    notice_number: str
    round_id: str
    shipment_id: UUID
    province_code: str
    line_no: int
    product: str
    unit: str
    pack_size: int
    quantity: int
    packs: int
    lots: JsonList
    status: NoticeStatus
    allocated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    released_at: datetime | None = None
    decision_number: str = ""
    amended_at: datetime | None = None
    amendment_number: str | None = None
    dispatched_lots: OptionalJsonList = None
    carrier: str | None = None
    dispatched_by: str | None = None
    dispatched_at: datetime | None = None
    received_lots: OptionalJsonList = None
    received_by: str | None = None
    received_at: datetime | None = None
    with_discrepancies: bool = False
    rejected_quantity: int = 0
    lead_time_seconds: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def within_target(self) -> bool | None:
        """Received within 7 days of release (None until received, or release unknown)."""
        if self.lead_time_seconds is None:
            return None
        return self.lead_time_seconds <= SEVEN_DAYS_SECONDS


class NoticeInInbox(NoticeView):
    """A notice with its place in the inbox, the key its pages are cut by."""

    position: int


class RoundView(View):
    """A round with its lines as they stand now: drafted, then adjusted and amended."""

    round_id: str
    shipment_id: UUID
    policy: str
    decided_at: datetime
    lines: JsonList
    source: str = "fast_track"
    release_no: int | None = None
    policy_id: str | None = None
    policy_version: int | None = None
    status: RoundStatus = RoundStatus.APPROVED
    automatic: bool = True
    use_by: date | None = None
    released_at: datetime | None = None
    drafted_by: str = ""
    donor: str = ""
    decision_number: str | None = None
    decision_date: date | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    adjustments: JsonList = Field(default_factory=list)
    amendments: JsonList = Field(default_factory=list)


_LINES = TypeAdapter(tuple[DraftLine, ...])
_CHANGES = TypeAdapter(tuple[QuantityChange, ...])


def _round(row: Any) -> RoundView:
    view = RoundView.of(row)
    if view.policy_id is None:  # decided by version 0.x: lines as they were
        return view
    lines = _LINES.validate_python(view.lines)
    for change in [*view.adjustments, *view.amendments]:
        lines = apply_changes(lines, _CHANGES.validate_python(change["changes"]), change["reason"])
    return view.model_copy(update={"lines": [x.model_dump(mode="json") for x in lines]})


async def existing_notice(db: Db, province_code: str, number: str) -> NoticeView:
    row = await db.fetchrow(
        "SELECT * FROM notices WHERE notice_number = $1 AND province_code = $2",
        number,
        province_code,
    )
    if row is None:
        raise NotFound(f"no notice {number} for province {province_code}", code="notice-not-found")
    return NoticeView.of(row)


async def inbox_page(
    db: Db, province_code: str, status: NoticeStatus | None, before: int | None, limit: int
) -> Page[NoticeInInbox]:
    """A province's notices, newest first, before a position."""
    rows = await db.fetch(
        """SELECT * FROM notices WHERE province_code = $1 AND ($2::text IS NULL OR status = $2)
             AND ($3::bigint IS NULL OR position < $3)
           ORDER BY position DESC LIMIT $4""",
        province_code,
        status,
        before,
        limit + 1,
    )
    views = [NoticeInInbox.of(row) for row in rows]
    return page_of(views, limit, lambda n: (n.position,))


async def inbox(db: Db, province_code: str) -> list[NoticeView]:
    """The newest notices of a province, for its inbox page."""
    rows = await db.fetch(
        f"SELECT * FROM notices WHERE province_code = $1 ORDER BY position DESC LIMIT {PAGE_ROWS}",
        province_code,
    )
    return [NoticeView.of(row) for row in rows]


async def issued_notices(db: Db, province_code: str) -> int:
    """How many notices a recipient has not acknowledged yet (the live feed's badge)."""
    count = await db.fetchval(
        "SELECT count(*) FROM notices WHERE province_code = $1 AND status = $2",
        province_code,
        NoticeStatus.ISSUED,
    )
    return int(count)


async def latest_rounds(
    db: Db,
    limit: int = ROUNDS_ON_PAGE,
    status: RoundStatus | None = None,
    before: str | None = None,
) -> list[RoundView]:
    """Newest first (ties in time by round id); ``before``: after that round in this order."""
    if before is None:
        rows = await db.fetch(
            """SELECT * FROM allocation_rounds WHERE ($2::text IS NULL OR status = $2)
               ORDER BY decided_at DESC, round_id DESC LIMIT $1""",
            limit,
            status,
        )
    else:
        last = await db.fetchrow(
            "SELECT decided_at, round_id FROM allocation_rounds WHERE round_id = $1", before
        )
        if last is None:
            raise InvalidInput(f"no round {before}", field="before", code="round-not-found")
        rows = await db.fetch(
            """SELECT * FROM allocation_rounds WHERE ($2::text IS NULL OR status = $2)
                 AND (decided_at, round_id) < ($3, $4)
               ORDER BY decided_at DESC, round_id DESC LIMIT $1""",
            limit,
            status,
            last["decided_at"],
            last["round_id"],
        )
    return [_round(row) for row in rows]


async def existing_round(db: Db, shipment_id: UUID) -> RoundView:
    """The consignment's first round (its fast track or first release)."""
    row = await db.fetchrow(
        "SELECT * FROM allocation_rounds WHERE shipment_id = $1 ORDER BY decided_at LIMIT 1",
        shipment_id,
    )
    if row is None:
        raise NotFound(f"no allocation round for shipment {shipment_id}", code="round-not-found")
    return _round(row)


async def round_by_id(db: Db, round_id: str) -> RoundView:
    row = await db.fetchrow("SELECT * FROM allocation_rounds WHERE round_id = $1", round_id)
    if row is None:
        raise NotFound(f"no round {round_id}", field="round_id", code="round-not-found")
    return _round(row)


async def counted_against_need(db: Db, products: Sequence[str]) -> dict[str, dict[str, int]]:
    """The caps' read model, per product and recipient: the units accepted on receipt, plus
    what is allocated and not yet received (in flight, it will fill the need too). Units
    rejected on receipt free room again; a withdrawn notice counts nothing."""
    rows = await db.fetch(
        """SELECT product, province_code, sum(CASE WHEN received_at IS NULL THEN quantity
                   ELSE (SELECT coalesce(sum((lot->>'accepted')::bigint), 0)
                         FROM jsonb_array_elements(received_lots) lot) END) AS units
           FROM notices
           WHERE product = ANY($1::text[]) AND status <> 'withdrawn'
           GROUP BY product, province_code""",
        list(products),
    )
    received: dict[str, dict[str, int]] = {}
    for row in rows:
        received.setdefault(row["product"], {})[row["province_code"]] = int(row["units"])
    return received


async def counted_for_shipment(db: Db, shipment_id: UUID) -> dict[str, dict[str, int]]:
    """``counted_against_need`` for the products of one consignment's rounds."""
    products = await db.fetch(
        """SELECT DISTINCT line->>'product' AS product FROM allocation_rounds,
               jsonb_array_elements(lines) AS line WHERE shipment_id = $1""",
        shipment_id,
    )
    return await counted_against_need(db, [row["product"] for row in products])


async def notice_by_number(db: Db, number: str) -> NoticeView | None:
    row = await db.fetchrow("SELECT * FROM notices WHERE notice_number = $1", number)
    return NoticeView.of(row) if row else None


async def discrepancies_page(
    db: Db, province_code: str | None, before: int | None, limit: int
) -> Page[NoticeInInbox]:
    """Receipts with discrepancies, nationally or for one province, newest first."""
    rows = await db.fetch(
        """SELECT * FROM notices WHERE with_discrepancies
             AND ($1::text IS NULL OR province_code = $1)
             AND ($2::bigint IS NULL OR position < $2)
           ORDER BY position DESC LIMIT $3""",
        province_code,
        before,
        limit + 1,
    )
    return page_of([NoticeInInbox.of(r) for r in rows], limit, lambda n: (n.position,))


async def to_dispatch(
    db: Db, province_code: str | None = None, limit: int = PAGE_ROWS
) -> list[NoticeView]:
    """Notices the national store has still to send, oldest first (its dispatch desk), of one
    province or of all."""
    rows = await db.fetch(
        """SELECT * FROM notices WHERE status IN ('issued', 'acknowledged') AND quantity > 0
             AND ($1::text IS NULL OR province_code = $1)
           ORDER BY position LIMIT $2""",
        province_code,
        limit,
    )
    return [NoticeView.of(r) for r in rows]


class LeadTimes(View):
    received: int
    within_target: int
    median_seconds: float | None
    slowest_seconds: float | None


async def lead_times(db: Db) -> LeadTimes:
    """Release to receipt against the 7-day target, over every notice received."""
    row = await db.fetchrow(
        """SELECT count(*) AS received,
                  count(*) FILTER (WHERE lead_time_seconds <= $1) AS within_target,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_seconds)
                      AS median_seconds,
                  max(lead_time_seconds) AS slowest_seconds
           FROM notices WHERE received_at IS NOT NULL AND lead_time_seconds IS NOT NULL""",
        float(SEVEN_DAYS_SECONDS),
    )
    assert row is not None  # an aggregate always returns its row
    return LeadTimes.of(row)
