"""``Idempotency-Key``: a retried command returns the first response instead of acting twice.

The key, the request's hash and the response are stored in the same transaction as the
command's events; a concurrent retry with the same key waits on an advisory lock.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from shared.db import Conn
from shared.http.problems import ProblemError

Response = tuple[int, Any]


def request_hash(body: Any) -> str:
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
    await conn.execute("SELECT pg_advisory_xact_lock($1)", zlib.crc32(f"{scope}|{key}".encode()))
    row = await conn.fetchrow(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
        scope,
        key,
    )
    if row is not None:
        if row["request_hash"] != body_hash:
            raise ProblemError(
                422,
                "Idempotency-Key reused",
                "this Idempotency-Key was already used for a different request",
                "idempotency-key-reused",
            )
        return int(row["status"]), json.loads(row["body"])
    status, body = await action(conn)
    await conn.execute(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, body)"
        " VALUES ($1, $2, $3, $4, $5::jsonb)",
        scope,
        key,
        body_hash,
        status,
        json.dumps(body, default=str),
    )
    return status, body
