"""Database helpers common to every service: connections that speak JSON.

Every connection gets one codec for ``json`` and ``jsonb`` (orjson), registered once when
it opens: a jsonb column reads as Python values, and a Python value passed for a jsonb
parameter is encoded. A ``str`` passed for a jsonb parameter is taken as JSON text already
encoded and goes through unchanged, as it did before the codec.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""A connection, whether held alone or borrowed from a pool."""


def to_json(value: Any) -> str:
    """Compact JSON text (UTF-8 characters as they are, not escaped)."""
    return orjson.dumps(value).decode()


def from_json(text: str | bytes) -> Any:
    return orjson.loads(text)


def _encode(value: Any) -> str:
    return value if isinstance(value, str) else to_json(value)


async def init_connection(conn: asyncpg.Connection) -> None:
    """Registers the JSON codecs: runs once on each new connection."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=_encode, decoder=from_json, format="text"
        )


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, statement_timeout: float = 0.0
) -> asyncpg.Pool:
    """A pool whose connections have the JSON codecs and go back without a reset query.

    asyncpg's default reset (unlock advisory locks, close cursors, UNLISTEN, RESET ALL) is one
    more round trip for every borrowed connection. Nothing here leaves such session state on
    a pooled connection (LISTEN and the relay's lock use connections of their own, the
    migrations unlock their lock); an open transaction is still rolled back.

    ``statement_timeout`` (seconds, 0: none) makes PostgreSQL cancel a statement that runs
    or waits for a lock longer: its transaction is rolled back, nothing is half-written.
    """
    settings = {"statement_timeout": f"{round(statement_timeout * 1000)}"}
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init,
        reset=_keep_session,
        server_settings=settings if statement_timeout > 0 else None,
    )
    assert pool is not None
    return pool


async def without_statement_timeout(conn: Conn) -> None:
    """For the rest of this transaction, no statement timeout: for an operator's rebuild,
    which holds its lock and runs as long as the store is large."""
    await conn.execute("SET LOCAL statement_timeout = 0")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset query (see ``create_pool``)."""


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection of its own (the relay's), with the same codecs as a pool's."""
    conn = await asyncpg.connect(dsn)
    await _init(conn)
    return conn


async def _init(conn: asyncpg.Connection) -> None:
    await init_connection(conn)  # looked up at call time, so that a test can wrap it
