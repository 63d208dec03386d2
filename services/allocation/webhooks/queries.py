"""What the webhook API reads: endpoints (never their secrets), deliveries and attempts."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from shared.decider import NotFound
from shared.views import Db, View


class EndpointView(View):
    endpoint_id: UUID
    province_code: str
    url: str
    description: str
    from_position: int
    created_by: str
    created_at: datetime
    deleted_at: datetime | None


class DeliveryView(View):
    delivery_id: int
    endpoint_id: UUID
    event_id: UUID
    position: int
    event_type: str
    notice_number: str
    status: str
    attempts: int
    next_attempt_at: datetime
    give_up_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime


class AttemptView(View):
    attempt_id: int
    delivery_id: int
    attempt: int
    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None
    event_id: UUID
    event_type: str


async def endpoints(db: Db, province_code: str) -> list[EndpointView]:
    rows = await db.fetch(
        """SELECT * FROM webhook_endpoints WHERE province_code = $1 AND deleted_at IS NULL
           ORDER BY created_at""",
        province_code,
    )
    return [EndpointView.of(r) for r in rows]


async def existing_endpoint(db: Db, province_code: str, endpoint_id: UUID) -> EndpointView:
    """An endpoint of this province (another province's is not found here)."""
    row = await db.fetchrow(
        "SELECT * FROM webhook_endpoints WHERE endpoint_id = $1 AND province_code = $2",
        endpoint_id,
        province_code,
    )
    if row is None:
        raise NotFound(
            f"no webhook {endpoint_id} for province {province_code}", code="webhook-not-found"
        )
    return EndpointView.of(row)


async def deliveries(
    db: Db, endpoint_id: UUID, status: str | None, before: int | None, limit: int
) -> list[DeliveryView]:
    rows = await db.fetch(
        """SELECT * FROM webhook_deliveries WHERE endpoint_id = $1
             AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR delivery_id < $3)
           ORDER BY delivery_id DESC LIMIT $4""",
        endpoint_id,
        status,
        before,
        limit,
    )
    return [DeliveryView.of(r) for r in rows]


async def attempts(db: Db, endpoint_id: UUID, before: int | None, limit: int) -> list[AttemptView]:
    """The delivery log, newest first: every attempt with its status code or error."""
    rows = await db.fetch(
        """SELECT a.*, d.event_id, d.event_type FROM webhook_attempts a
             JOIN webhook_deliveries d USING (delivery_id)
           WHERE a.endpoint_id = $1 AND ($2::bigint IS NULL OR a.attempt_id < $2)
           ORDER BY a.attempt_id DESC LIMIT $3""",
        endpoint_id,
        before,
        limit,
    )
    return [AttemptView.of(r) for r in rows]
