"""What the allocation API and pages read: ``allocation_rounds`` and ``notices``. The only
SELECTs."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.allocation.domain import NoticeStatus
from shared.decider import NotFound
from shared.http.pagination import Page, page_of
from shared.views import Db, JsonList, View

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


class NoticeInInbox(NoticeView):
    """A notice with its place in the inbox, the key its pages are cut by."""

    position: int


class RoundView(View):
    round_id: str
    shipment_id: UUID
    policy: str
    decided_at: datetime
    lines: JsonList


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


async def new_notices(db: Db, province_code: str) -> int:
    """How many notices a province has not acknowledged yet (the live feed's badge)."""
    count = await db.fetchval(
        "SELECT count(*) FILTER (WHERE status = $2) FROM notices WHERE province_code = $1",
        province_code,
        NoticeStatus.NEW,
    )
    return int(count)


async def latest_rounds(db: Db, limit: int = ROUNDS_ON_PAGE) -> list[RoundView]:
    rows = await db.fetch(
        "SELECT * FROM allocation_rounds ORDER BY decided_at DESC LIMIT $1", limit
    )
    return [RoundView.of(row) for row in rows]


async def existing_round(db: Db, shipment_id: UUID) -> RoundView:
    row = await db.fetchrow("SELECT * FROM allocation_rounds WHERE shipment_id = $1", shipment_id)
    if row is None:
        raise NotFound(f"no allocation round for shipment {shipment_id}", code="round-not-found")
    return RoundView.of(row)
