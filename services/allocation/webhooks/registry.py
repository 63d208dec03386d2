"""Registering, removing and replaying a province's webhook endpoints (plain table writes in
the caller's transaction: endpoints are configuration, not domain events)."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.allocation.webhooks import queries, signing, targets
from services.allocation.webhooks.outbox import DELIVERED_TYPES
from services.allocation.webhooks.queries import EndpointView
from shared.db import Conn
from shared.decider import RuleBroken, StateConflict

MAX_ENDPOINTS_PER_PROVINCE = 5


async def register(
    conn: Conn,
    box: signing.SecretBox,
    province_code: str,
    url: str,
    description: str,
    created_by: str,
    development: bool,
) -> tuple[EndpointView, str]:
    """The new endpoint and its secret (returned this once, stored sealed). It receives the
    events recorded from now on; ``replay`` sends earlier ones."""
    targets.parse(url, development)
    existing = await queries.endpoints(conn, province_code)
    if len(existing) >= MAX_ENDPOINTS_PER_PROVINCE:
        raise RuleBroken(
            f"a province has at most {MAX_ENDPOINTS_PER_PROVINCE} webhooks",
            field="url",
            code="too-many-webhooks",
        )
    secret = signing.new_secret()
    endpoint_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO webhook_endpoints (endpoint_id, province_code, url, description, secret,
               from_position, created_by)
           VALUES ($1, $2, $3, $4, $5, (SELECT coalesce(max(position), 0) FROM events), $6)""",
        endpoint_id,
        province_code,
        url,
        description,
        box.seal(secret),
        created_by,
    )
    return await queries.existing_endpoint(conn, province_code, endpoint_id), secret


async def remove(conn: Conn, province_code: str, endpoint_id: uuid.UUID) -> EndpointView:
    """No more deliveries to it; what was pending is cancelled. Its log stays (for its
    retention, see ``outbox``)."""
    await queries.existing_endpoint(conn, province_code, endpoint_id)
    await conn.execute(
        """UPDATE webhook_endpoints SET deleted_at = coalesce(deleted_at, now())
           WHERE endpoint_id = $1""",
        endpoint_id,
    )
    await conn.execute(
        """UPDATE webhook_deliveries SET status = 'cancelled'
           WHERE endpoint_id = $1 AND status = 'pending'""",
        endpoint_id,
    )
    return await queries.existing_endpoint(conn, province_code, endpoint_id)


async def replay(
    conn: Conn,
    province_code: str,
    endpoint_id: uuid.UUID,
    after_position: int,
    since: datetime | None,
    give_up_seconds: float,
) -> int:
    """Deliver again every event of the province after a position (and since a time): the
    same ``webhook-id`` as before, a fresh three days of retries. Returns how many."""
    endpoint = await queries.existing_endpoint(conn, province_code, endpoint_id)
    if endpoint.deleted_at is not None:
        raise StateConflict("this webhook was deleted", code="webhook-deleted")
    result = await conn.execute(
        """INSERT INTO webhook_deliveries (endpoint_id, event_id, position, event_type,
               notice_number, give_up_at)
           SELECT $1, e.event_id, e.position, e.event_type, e.data->>'notice_number',
               now() + make_interval(secs => $6)
           FROM events e
           WHERE e.event_type = ANY($2::text[]) AND e.data->>'province_code' = $3
             AND e.position > $4 AND ($5::timestamptz IS NULL OR e.recorded_at >= $5)
           ON CONFLICT (endpoint_id, event_id) DO UPDATE SET status = 'pending',
               next_attempt_at = now(), give_up_at = EXCLUDED.give_up_at""",
        endpoint_id,
        list(DELIVERED_TYPES),
        province_code,
        after_position,
        since,
        give_up_seconds,
    )
    return int(result.split()[-1])
