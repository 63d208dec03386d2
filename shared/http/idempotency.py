"""``Idempotency-Key``: a retried command returns the first response instead of acting twice.

Two statements in the command's transaction: the first claims the key (or finds the stored
response), the last stores the response. The claim is an INSERT, so a concurrent request
with the same key waits on its row until the first one commits or rolls back.

A key is kept for ``AIDPORT_IDEMPOTENCY_RETENTION_HOURS``, then forgotten (a sweep of
``shared.retention``): each stored response is a whole command's answer, and they would
otherwise pile up forever.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from shared.db import Conn, to_json
from shared.eventstore import ConcurrencyError
from shared.http.problems import ProblemError

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
