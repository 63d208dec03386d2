"""Launchers for the infrastructure the project starts itself: Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
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
