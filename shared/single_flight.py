"""One computation shared by every caller that asks while it runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """The first caller starts ``compute``; callers that come while it runs await the same
    result (or error) instead of starting their own; the next caller after it starts anew.
    A caller that gives up (cancelled) does not cancel it for the others."""

    def __init__(self) -> None:
        self._running: asyncio.Task[T] | None = None

    async def run(self, compute: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if self._running is None:
            self._running = asyncio.ensure_future(compute())
            self._running.add_done_callback(self._landed)
        return await asyncio.shield(self._running)

    def _landed(self, task: asyncio.Task[T]) -> None:
        if self._running is task:
            self._running = None
        if not task.cancelled():
            task.exception()  # seen, even when every caller had given up
