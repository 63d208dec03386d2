"""A very small migration runner: ordered SQL files, each applied once and recorded.

The kit's own tables (``shared/sql``) come first, then the service's
(``services/<name>/migrations``). An advisory lock keeps two replicas starting at
once from applying the same file twice.
"""

from __future__ import annotations

import logging
from pathlib import Path

from shared.db import Conn

log = logging.getLogger(__name__)

KIT_MIGRATIONS = Path(__file__).parent / "sql"
_LOCK_KEY = 7_310_001


def migration_files(*folders: Path) -> list[tuple[str, Path]]:
    """(recorded name, file) pairs in the order they must be applied."""
    ordered: list[tuple[str, Path]] = []
    for folder in folders:
        for file in sorted(folder.glob("*.sql")):
            ordered.append((f"{folder.parent.name}/{file.name}", file))
    return ordered


async def migrate(conn: Conn, *service_folders: Path) -> list[str]:
    """Apply what is not applied yet; returns the names applied now."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for name, file in migration_files(KIT_MIGRATIONS, *service_folders):
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(file.read_text(encoding="utf-8"))
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            log.info("applied migration %s", name)
            applied_now.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
