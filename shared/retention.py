"""Retention: records kept only for a while, then deleted a few thousand rows a statement.

Some tables would otherwise grow for as long as a service runs: the answers stored under
an ``Idempotency-Key`` (``AIDPORT_IDEMPOTENCY_RETENTION_HOURS``), the dead letters and
quarantined events an operator has resolved (``AIDPORT_RESOLVED_RETENTION_DAYS``), and
allocation's webhook delivery log. Each is a ``Sweep``; ``keep_tidy`` runs a service's
sweeps every ``SWEEP_EVERY_SECONDS``. Open problems are never deleted: only what was
resolved, and only once it is older than its retention.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from shared.settings import Settings

SWEEP_EVERY_SECONDS = 600.0
BATCH = 5_000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sweep:
    """One DELETE of what is older than ``keep``: ``statement`` takes the retention as an
    interval ($1) and the most rows it may delete at once ($2), so that each statement is
    short; it is run again until it deletes fewer."""

    name: str
    statement: str
    keep: timedelta


def _oldest_first(table: str, where: str, key: str = "id") -> str:
    """A bounded DELETE of the rows ``where`` holds, older than $1 (an index on the age)."""
    return f"""DELETE FROM {table} WHERE {key} = ANY(ARRAY(
        SELECT {key} FROM {table} WHERE {where} < now() - $1::interval LIMIT $2))"""


def shared_sweeps(settings: Settings) -> list[Sweep]:
    """What every service keeps only for a while."""
    resolved = timedelta(days=settings.resolved_retention_days)
    return [
        Sweep(
            "idempotency keys",
            _oldest_first("idempotency_keys", "created_at", key="ctid"),
            timedelta(hours=settings.idempotency_retention_hours),
        ),
        Sweep("resolved dead letters", _oldest_first("dead_letters", "resolved_at"), resolved),
        Sweep(
            "resolved relay quarantine", _oldest_first("relay_quarantine", "resolved_at"), resolved
        ),
    ]


async def sweep(pool: asyncpg.Pool, what: Sweep, batch: int = BATCH) -> int:
    """Delete everything ``what`` retains no longer, ``batch`` rows a statement; returns
    how many rows went."""
    deleted = 0
    while True:
        tag = await pool.execute(what.statement, what.keep, batch)
        count = int(tag.split()[-1])
        deleted += count
        if count < batch:
            return deleted


async def keep_tidy(pool: asyncpg.Pool, sweeps: Sequence[Sweep]) -> None:
    """Every ``SWEEP_EVERY_SECONDS``, for the service's lifetime: each of ``sweeps``."""
    while True:
        for what in sweeps:
            try:
                if deleted := await sweep(pool, what):
                    log.info("deleted %d %s older than %s", deleted, what.name, what.keep)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.debug("%s not swept this time: %r", what.name, error)  # outages are logged
        await asyncio.sleep(SWEEP_EVERY_SECONDS)
