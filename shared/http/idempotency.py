"""``Idempotency-Key``: a retried command returns the first response instead of acting twice.

Two statements in the command's transaction: the first claims the key (or finds the stored
response), the last stores the response. The claim is an INSERT, so a concurrent request
with the same key waits on its row until the first one commits or rolls back.

A key is kept for ``AIDPORT_IDEMPOTENCY_RETENTION_HOURS``, then forgotten (``forget_keys``):
each stored response is a whole command's answer, and they would otherwise pile up forever.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg

from shared.db import Conn, to_json
from shared.eventstore import ConcurrencyError
from shared.http.problems import ProblemError
from shared.runtime import Runtime

Response = tuple[int, Any]

# Inserts a placeholder row for the key, or else returns the stored response. The stored
# row is read with the statement's snapshot: a request with the same key that committed
# while this one waited for it is not seen, and then no row comes back at all.
_CLAIM = """
WITH claimed AS (
    INSERT INTO idempotency_keys (scope, key, request_hash, status, body)
    VALUES ($1, $2, $3, 0, 'null') ON CONFLICT (scope, key) DO NOTHING RETURNING 1)
SELECT true AS claimed, NULL::text AS request_hash, NULL::int AS status, NULL::jsonb AS body
FROM claimed
UNION ALL
SELECT false, request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2
"""
_RECORD = "UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2"
_FORGET = """
DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_keys WHERE created_at < now() - $1::interval LIMIT $2))
"""
FORGET_EVERY_SECONDS = 600.0
log = logging.getLogger(__name__)


class KeyJustUsed(ConcurrencyError):
    """A request with the same key committed while this one waited: run it again to
    replay that response."""


def request_hash(body: Any) -> str:
    # json, not orjson: the hashes stored before must keep matching their retries
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def once(
    conn: Conn,
    scope: str,
    key: str | None,
    body_hash: str,
    action: Callable[[Conn], Awaitable[Response]],
) -> Response:
    """Run ``action`` once per (scope, key) inside the caller's transaction."""
    if key is None:
        return await action(conn)
    if not 1 <= len(key) <= 200:
        raise ProblemError(
            422, "Invalid Idempotency-Key", "the key must be 1 to 200 characters", "idempotency-key"
        )
    row = await conn.fetchrow(_CLAIM, scope, key, body_hash)
    if row is None:
        raise KeyJustUsed(f"idempotency key {key!r}")
    if not row["claimed"]:
        if row["request_hash"] != body_hash:
            raise ProblemError(
                422,
                "Idempotency-Key reused",
                "this Idempotency-Key was already used for a different request",
                "idempotency-key-reused",
            )
        return int(row["status"]), row["body"]
    status, body = await action(conn)
    await conn.execute(_RECORD, scope, key, status, to_json(body))
    return status, body


async def forget_old_keys(pool: asyncpg.Pool, retention: timedelta, batch: int = 5_000) -> int:
    """Delete the keys older than ``retention``, ``batch`` rows a statement (each one short);
    returns how many. A retry with a forgotten key acts as a new request."""
    forgotten = 0
    while True:
        deleted = int((await pool.execute(_FORGET, retention, batch)).split()[-1])
        forgotten += deleted
        if deleted < batch:
            return forgotten


async def forget_keys(runtime: Runtime) -> None:
    """Every ``FORGET_EVERY_SECONDS``, for the service's lifetime: ``forget_old_keys``."""
    retention = timedelta(hours=runtime.settings.idempotency_retention_hours)
    while True:
        try:
            if forgotten := await forget_old_keys(runtime.pool, retention):
                log.info("forgot %d idempotency keys older than %s", forgotten, retention)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.debug("idempotency keys not pruned this time: %r", error)  # outages are logged
        await asyncio.sleep(FORGET_EVERY_SECONDS)
