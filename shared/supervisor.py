"""Keeps ``make run``'s children alive: a child that dies is restarted with backoff.

Each child is watched on its own: while one is down (and waits for its next try) the others
go on serving. The delay before a restart doubles with each failure in a row, up to a cap,
and falls back to the first delay once the child has stayed up for a stable period, so that
a child that crashes at once on every start does not spin and one that died once after
hours comes back at once. Every restart is logged and counted; the counts are written to a
JSON status file after every change, for people and for the fault test.

Only death is watched, not health: a child that hangs stays as it is. A restart runs in the
supervisor's loop and blocks it until the child's ``start()`` returns (the broker's waits
until it serves, seconds), so a second death is noticed after that.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

FIRST_DELAY = 0.5  # seconds before the first restart
MAX_DELAY = 30.0
STABLE_AFTER = 60.0  # seconds up after which the backoff starts again from FIRST_DELAY


def backoff_delay(failures: int, first: float = FIRST_DELAY, cap: float = MAX_DELAY) -> float:
    """The wait before the next start after ``failures`` restarts in a row (0: the first)."""
    return min(cap, first * 2.0 ** min(failures, 32))


class Process(Protocol):
    """What the supervisor needs from a child: start it, ask whether it lives, stop it."""

    def start(self) -> object: ...

    def alive(self) -> bool: ...

    def pid(self) -> int | None: ...

    def stop(self) -> None: ...


@dataclass
class Child:
    name: str
    process: Process
    restarts: int = 0  # every restart attempt since the stack started
    failures: int = 0  # restarts in a row without a stable period in between
    up_since: float = 0.0
    down_since: float | None = None
    next_try: float = 0.0


@dataclass
class Supervisor:
    children: list[Child]
    status_file: Path | None = None
    log: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    stable_after: float = STABLE_AFTER

    def started(self) -> None:
        """All children were started by the caller: watching begins now."""
        now = self.clock()
        for child in self.children:
            child.up_since = now
        self.write_status()

    def check(self) -> None:
        """One look at every child: notice deaths, restart those whose delay has passed."""
        for child in self.children:
            if child.down_since is None:
                self._watch(child)
            elif self.clock() >= child.next_try:
                self._restart(child)

    def stopped(self) -> None:
        """Everything was stopped by the caller: the status file says so."""
        now = self.clock()
        for child in self.children:
            child.down_since = now
        self.write_status(state_when_down="stopped")

    def restarts(self) -> dict[str, int]:
        return {child.name: child.restarts for child in self.children}

    def write_status(self, state_when_down: str = "down") -> None:
        if self.status_file is None:
            return
        status = {
            child.name: {
                "state": state_when_down if child.down_since is not None else "running",
                "pid": child.process.pid() if child.down_since is None else None,
                "restarts": child.restarts,
            }
            for child in self.children
        }
        partial = self.status_file.with_suffix(".tmp")
        partial.write_text(json.dumps(status, indent=2) + "\n")
        os.replace(partial, self.status_file)  # readers never see half a file

    # -- internals ---------------------------------------------------------------------

    def _watch(self, child: Child) -> None:
        now = self.clock()
        if child.process.alive():
            if child.failures and now - child.up_since >= self.stable_after:
                child.failures = 0
            return
        child.down_since = now
        delay = backoff_delay(child.failures)
        child.next_try = now + delay
        self.log(f"{child.name} died; restart #{child.restarts + 1} in {delay:.1f}s")
        self.write_status()

    def _restart(self, child: Child) -> None:
        child.restarts += 1
        child.failures += 1
        assert child.down_since is not None
        try:
            child.process.stop()  # lets go of what the dead one left (handles, pid files)
            child.process.start()
        except Exception as error:  # a start that fails is retried like a death
            delay = backoff_delay(child.failures)
            child.next_try = self.clock() + delay
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.log(
                f"{child.name}: restart #{child.restarts} failed ({reason}); "
                f"next try in {delay:.1f}s"
            )
            self.write_status()
            return
        now = self.clock()
        self.log(
            f"{child.name} restarted (restart #{child.restarts}, "
            f"down {now - child.down_since:.1f}s, pid {child.process.pid()})"
        )
        child.down_since = None
        child.up_since = now
        self.write_status()
