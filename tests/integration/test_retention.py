"""What every service keeps only for a while, on real PostgreSQL: resolved dead letters and
resolved quarantined events go after their retention; open ones, and recent ones, stay."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from shared.retention import shared_sweeps, sweep
from tests.integration.apps import settings_for

pytestmark = pytest.mark.integration


async def _dead_letter(pool: asyncpg.Pool, offset: int, resolved: timedelta | None) -> None:
    await pool.execute(
        """INSERT INTO dead_letters (consumer_group, topic, partition, kafka_offset, msg_value,
               header_keys, header_values, reason, dlq_published, resolved_at)
           VALUES ('g', 't', 0, $1, 'x', '{}', '{}', 'poison', true,
                   now() - $2::interval)""",
        offset,
        resolved,
    )


async def _quarantined(pool: asyncpg.Pool, position: int, resolved: timedelta | None) -> None:
    await pool.execute(
        """INSERT INTO relay_quarantine (relay, position, stream_id, event_id, event_type, state,
               reason, resolved_at, resolution)
           VALUES ('intake', $1, 's', gen_random_uuid(), 'E', 'quarantined', 'too large',
                   now() - $2::interval, CASE WHEN $2::interval IS NOT NULL THEN 'skipped' END)""",
        position,
        resolved,
    )


async def test_only_what_was_resolved_before_the_retention_is_deleted(
    pool: asyncpg.Pool, database: str
) -> None:
    days = {1: None, 2: 100, 3: 10, 4: 91}  # retention: 90 days
    ages = {n: None if d is None else timedelta(days=d) for n, d in days.items()}
    for n, resolved in ages.items():
        await _dead_letter(pool, n, resolved)
        await _quarantined(pool, n, resolved)
    settings = settings_for("intake", database, "127.0.0.1:9", "retention")
    swept = {s.name: await sweep(pool, s, batch=1) for s in shared_sweeps(settings)}

    assert swept == {
        "idempotency keys": 0,
        "resolved dead letters": 2,
        "resolved relay quarantine": 2,
    }
    kept = await pool.fetch("SELECT kafka_offset FROM dead_letters ORDER BY kafka_offset")
    assert [r["kafka_offset"] for r in kept] == [1, 3]
    kept = await pool.fetch("SELECT position FROM relay_quarantine ORDER BY position")
    assert [r["position"] for r in kept] == [1, 3]
