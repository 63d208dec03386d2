"""The webhook delivery log is swept after its retention, on real PostgreSQL: only ended
deliveries go, never past one still pending or recent, and a rebuild sends none again."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import pytest

from services.allocation.application import PROJECTIONS, allocations_in
from services.allocation.commands import draft_for
from services.allocation.webhooks import registry
from services.allocation.webhooks.outbox import log_sweep
from shared.eventstore import EventStore
from shared.projections import rebuild
from shared.retention import sweep
from tests.integration.layers import METADATA, run, with_tables_of
from tests.unit.builders import NOW, cleared, line

pytestmark = pytest.mark.integration

OLD, RECENT = timedelta(days=40), timedelta(days=1)


async def _allocate(pool: asyncpg.Pool, count: int) -> None:
    """``count`` fast-track rounds: each sends one notice to province 01, so one delivery."""
    handler = allocations_in(EventStore("allocation"))
    for n in range(count):
        shipment = uuid.UUID(int=n + 1)
        command = draft_for(cleared((line(1, 811_200),), shipment), NOW)
        await run(pool, lambda c, s=shipment, d=command: handler.handle(c, str(s), d, METADATA))


async def _ended(pool: asyncpg.Pool, position: int, status: str, ago: timedelta) -> None:
    """A delivery that ended ``ago`` (delivered then, or given up then), with an attempt."""
    delivery_id = await pool.fetchval(
        """UPDATE webhook_deliveries SET status = $2,
               delivered_at = CASE WHEN $2 = 'delivered' THEN now() - $3::interval END,
               give_up_at = now() - $3::interval
           WHERE position = $1 RETURNING delivery_id""",
        position,
        status,
        ago,
    )
    await pool.execute(
        """INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, attempted_at,
               duration_ms, status_code)
           SELECT delivery_id, endpoint_id, 1, now() - $2::interval, 12, 200
           FROM webhook_deliveries WHERE delivery_id = $1""",
        delivery_id,
        ago,
    )


async def _log(pool: asyncpg.Pool) -> tuple[list[int], int, int]:
    """The deliveries' positions, the attempts logged, the endpoint's from_position."""
    positions = await pool.fetch("SELECT position FROM webhook_deliveries ORDER BY position")
    attempts = await pool.fetchval("SELECT count(*) FROM webhook_attempts")
    from_position = await pool.fetchval("SELECT from_position FROM webhook_endpoints")
    return [r["position"] for r in positions], attempts, from_position


async def test_ended_deliveries_are_swept_up_to_the_first_one_still_open(
    pool: asyncpg.Pool,
) -> None:
    await with_tables_of(pool, "allocation")
    endpoint = uuid.uuid4()
    await pool.execute(
        """INSERT INTO webhook_endpoints (endpoint_id, province_code, url, secret,
               from_position, created_by)
           VALUES ($1, '01', 'http://127.0.0.1:9/h', '\\x00', 0, 't')""",
        endpoint,
    )
    await _allocate(pool, 6)
    d = (await _log(pool))[0]
    assert len(d) == 6

    await _ended(pool, d[0], "delivered", OLD)
    await _ended(pool, d[1], "delivered", OLD)
    await _ended(pool, d[2], "failed", OLD)
    # d[3] is still pending (created long ago: its age does not matter)
    await pool.execute(
        "UPDATE webhook_deliveries SET created_at = now() - interval '60 days' WHERE position = $1",
        d[3],
    )
    await _ended(pool, d[4], "delivered", OLD)  # old, but after a pending one: kept
    await _ended(pool, d[5], "delivered", RECENT)

    assert await sweep(pool, log_sweep(), batch=1) == 3  # one a statement, then none
    assert await _log(pool) == (d[3:], 2, d[3] - 1)

    # A rebuild replays every event into the outbox: nothing swept comes back.
    await rebuild(pool, EventStore("allocation"), PROJECTIONS)
    assert await _log(pool) == (d[3:], 2, d[3] - 1)

    # Once d[3] has ended long ago too, the sweep moves on to the recent one.
    await _ended(pool, d[3], "delivered", OLD)
    assert await sweep(pool, log_sweep()) == 2
    assert await _log(pool) == ([d[5]], 1, d[5] - 1)

    # A replay asked for by the province enqueues old events again: pending, so kept.
    async with pool.acquire() as conn:
        assert await registry.replay(conn, "01", endpoint, 0, None, 3600.0) == 6
    assert await sweep(pool, log_sweep()) == 0
    assert (await _log(pool))[0] == d
