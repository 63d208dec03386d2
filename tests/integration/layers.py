"""What the application-layer tests share: a service's tables on a fresh database, and
one command run as the HTTP adapter runs it (a transaction, retried on a version clash)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg

from shared.application import in_transaction
from shared.contracts.base import JsonDict
from shared.db import Conn
from shared.migrations import migrate

ROOT = Path(__file__).resolve().parents[2]
METADATA: JsonDict = {"actor": "test.officer", "correlation_id": "test", "causation_id": None}
T = TypeVar("T")


async def with_tables_of(pool: asyncpg.Pool, service: str) -> asyncpg.Pool:
    async with pool.acquire() as conn:
        await migrate(conn, ROOT / "services" / service / "migrations")
    return pool


async def run(pool: asyncpg.Pool, work: Callable[[Conn], Awaitable[T]]) -> T:
    return await in_transaction(pool, work)
