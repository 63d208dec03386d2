"""Launchers for the infrastructure the project starts itself: Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code.

    The launchers are synchronous; when one is called from inside a running event loop
    (an async test, an async fixture) the coroutine runs on a loop of its own in a worker
    thread, because ``asyncio.run`` refuses to nest.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="infra") as worker:
        return worker.submit(asyncio.run, coroutine).result()


def process_alive(pid: int) -> bool:
    """True when process ``pid`` exists and is not a zombie (dead, not reaped yet: where
    nobody reaps orphans, a killed server's pid stays taken)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS): kill(pid, 0) is all there is
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"  # the state follows the command name


def command_line(pid: int) -> str:
    """The command line of process ``pid`` ("" when it is gone or unreadable)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
