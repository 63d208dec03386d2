"""Retrying with backoff, supervising a background task, and logging an outage once.

One helper for every loop that waits on a dependency (the relay, the consumer, the
dependency watch): the delay doubles from ``initial`` up to ``maximum`` and is reset
once the work succeeds again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Backoff:
    initial: float = 0.5
    maximum: float = 10.0
    factor: float = 2.0
    _next: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._next = self.initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay

    async def wait(self) -> None:
        await asyncio.sleep(self.next_delay())

    def reset(self) -> None:
        self._next = self.initial


class Outage:
    """One log line when a dependency becomes unreachable and one when it is back, with
    the outage's length, however many times the work fails in between."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.since: float | None = None
        self.failures = 0
        self.last_error = ""

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, error: BaseException | str) -> None:
        self.last_error = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            self.logger.warning("%s: outage started: %s", self.what, self.last_error[:300])

    def recovered(self) -> None:
        if self.since is None:
            return
        length = time.monotonic() - self.since
        self.logger.warning(
            "%s: outage ended after %.1fs (%d failed attempts)", self.what, length, self.failures
        )
        self.since = None
        self.failures = 0


@dataclass
class Supervisor:
    """Runs ``work`` until cancelled, restarting it with backoff whenever it ends.

    ``on_restart`` counts the restarts (a Prometheus counter). A run that lasted longer
    than ``settled_after`` seconds resets the backoff: it was a new failure, not a loop."""

    name: str
    work: Callable[[], Awaitable[None]]
    on_restart: Callable[[], None] = lambda: None
    backoff: Backoff = field(default_factory=Backoff)
    settled_after: float = 30.0
    restarts: int = 0
    restarting: bool = False
    last_error: str | None = None

    async def run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.work()
                self.last_error = "ended without an error"
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.last_error = f"{type(error).__name__}: {error}"[:500]
                log.exception("%s died; restarting", self.name)
            if time.monotonic() - started > self.settled_after:
                self.backoff.reset()
            self.restarts += 1
            self.on_restart()
            delay = self.backoff.next_delay()
            log.warning("%s: restart %d in %.1fs", self.name, self.restarts, delay)
            self.restarting = True
            try:
                await asyncio.sleep(delay)
            finally:
                self.restarting = False
