"""The embedded PostgreSQL starts again after its postmaster was killed with SIGKILL.

On a machine whose init does not reap orphans (as here) the killed postmaster stays a zombie:
its pid still answers kill(pid, 0), and its ``postmaster.pid`` and socket lock file stay behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import asyncpg
import pytest

from shared.infra.postgres import EmbeddedPostgres

pytestmark = pytest.mark.integration


async def test_a_postmaster_killed_with_sigkill_starts_again_with_its_data(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    server.start()
    try:
        server.create_database("kept")
        conn = await asyncpg.connect(server.database_url("kept"))
        await conn.execute("CREATE TABLE t (n int); INSERT INTO t VALUES (7)")
        await conn.close()
        pid = server.pid()
        assert pid is not None and server.alive()

        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while server.alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not server.alive()
        assert (tmp_path / "pg" / "postmaster.pid").exists()  # left behind

        server.stop()  # lets go of the dead server at once
        server.start()
        assert server.alive() and server.pid() != pid
        conn = await asyncpg.connect(server.database_url("kept"))
        assert await conn.fetchval("SELECT n FROM t") == 7
        await conn.close()
    finally:
        server.stop()
    assert not server.alive()
