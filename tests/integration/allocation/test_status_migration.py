"""The migration that renames a notice's first status from ``new`` to ``issued``, on real
PostgreSQL: stored rows follow, and the store's dispatch desk index with them."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from shared.migrations import KIT_MIGRATIONS, migrate, migration_files

pytestmark = pytest.mark.integration

ALLOCATION = Path(__file__).resolve().parents[3] / "services" / "allocation" / "migrations"
RENAME = "0013_notice_status_issued"


async def test_stored_notices_issued_before_the_rename_read_issued(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY)")
        for name, file in migration_files(KIT_MIGRATIONS, ALLOCATION):
            if RENAME in name:
                break
            await conn.execute(file.read_text(encoding="utf-8"))
            await conn.execute("INSERT INTO schema_migrations VALUES ($1)", name)
        for number, status in (("N-1", "new"), ("N-2", "acknowledged"), ("N-3", "received")):
            await conn.execute(
                """INSERT INTO notices (notice_number, round_id, shipment_id, province_code,
                       line_no, product, unit, pack_size, quantity, packs, lots, status,
                       allocated_at, position)
                   VALUES ($1, 'R-1', gen_random_uuid(), 'MOD', 1, 'Spikevax', 'doses', 10,
                       100, 10, '[]', $2, now(), 1)""",
                number,
                status,
            )

        applied = await migrate(conn, ALLOCATION)

        assert [name for name in applied if RENAME in name]
        rows = await conn.fetch("SELECT notice_number, status FROM notices ORDER BY 1")
        assert [(r["notice_number"], r["status"]) for r in rows] == [
            ("N-1", "issued"),
            ("N-2", "acknowledged"),
            ("N-3", "received"),
        ]
        index = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'notices_to_dispatch'"
        )
        assert "'issued'" in index and "'new'" not in index
    finally:
        await conn.close()
