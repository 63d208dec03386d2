"""SingleFlight: callers that come while a computation runs share it."""

from __future__ import annotations

import asyncio

import pytest

from shared.single_flight import SingleFlight


class Counted:
    """A computation that waits for ``release`` and counts how often it was started."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def __call__(self) -> int:
        self.started += 1
        await self.release.wait()
        return self.started


async def test_callers_during_a_computation_share_its_result_and_later_ones_start_anew() -> None:
    flight: SingleFlight[int] = SingleFlight()
    compute = Counted()
    callers = [asyncio.ensure_future(flight.run(compute)) for _ in range(5)]
    await asyncio.sleep(0)
    compute.release.set()
    assert await asyncio.gather(*callers) == [1] * 5
    assert compute.started == 1
    assert await flight.run(compute) == 2  # after it landed: a new computation


async def test_an_error_reaches_every_caller_and_the_next_call_tries_again() -> None:
    flight: SingleFlight[int] = SingleFlight()
    failures = 0

    async def failing() -> int:
        nonlocal failures
        failures += 1
        await asyncio.sleep(0.01)
        raise ConnectionError("database away")

    callers = [asyncio.ensure_future(flight.run(failing)) for _ in range(3)]
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert failures == 1 and all(isinstance(r, ConnectionError) for r in results)
    with pytest.raises(ConnectionError):
        await flight.run(failing)
    assert failures == 2


async def test_a_caller_that_gives_up_does_not_cancel_it_for_the_others() -> None:
    flight: SingleFlight[int] = SingleFlight()
    compute = Counted()
    first = asyncio.ensure_future(flight.run(compute))
    second = asyncio.ensure_future(flight.run(compute))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    compute.release.set()
    assert await second == 1
    assert first.cancelled() and compute.started == 1
