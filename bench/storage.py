"""The disk's flush latency, measured beside the load.

Every commit waits for PostgreSQL's WAL to reach the disk (``fdatasync``). On a virtual
machine's disk that flush stalls now and then for hundreds of milliseconds, whatever the
database does: sampling ``pg_stat_activity`` during such a stall finds every committing
backend waiting on ``WALWrite``/``WalSync`` while the CPUs idle. A command's p99 then
measures the disk. The probe writes one 8 KiB page and flushes it every 20 ms, to a file
beside PostgreSQL's data, from a thread of its own; the bench reports what it saw during
each latency phase, so that a tail can be read against the disk it ran on.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

PAGE = b"\0" * 8192
SPAN = 1024  # pages the probe cycles over: a file of 8 MiB, allocated once
STALL_MS = 100.0


class FsyncProbe:
    def __init__(self, folder: Path, every: float = 0.02) -> None:
        self.path = folder / "fsync-probe.dat"
        self.every = every
        self.samples: list[tuple[float, float]] = []  # (started, seconds), appended by the thread
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fsync-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, PAGE * SPAN)
            os.fsync(fd)
            page = 0
            while not self._stop.wait(self.every):
                started = time.perf_counter()
                os.pwrite(fd, PAGE, page * len(PAGE))
                os.fdatasync(fd)
                self.samples.append((started, time.perf_counter() - started))
                page = (page + 1) % SPAN
        finally:
            os.close(fd)

    def between(self, started: float, ended: float) -> dict[str, Any]:
        """The flushes begun in ``[started, ended]`` (``time.perf_counter`` values)."""
        ms = sorted(1000 * s for t, s in list(self.samples) if started <= t <= ended)
        if not ms:
            return {"flushes": 0}
        return {
            "flushes": len(ms),
            "p50_ms": round(ms[len(ms) // 2], 1),
            "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
            "max_ms": round(ms[-1], 1),
            "stalls_over_100_ms": sum(1 for x in ms if x > STALL_MS),
        }
