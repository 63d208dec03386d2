"""Recovery: a killed service consumes again soon after its restart (static group
membership), and a broker outage is logged once when it starts and once when it ends."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from shared.infra.kafka_broker import KafkaBroker
from tests.e2e.flows import announce_and_arrive, case_status
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e


async def test_a_killed_service_consumes_again_soon_after_its_restart(stack: Stack) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        first = await announce_and_arrive(stack, client, "738-30000001")
        await until(lambda: _arrived(stack, client, first["shipment_id"]))

        stack.stop("customs", kill=True)
        waiting = await announce_and_arrive(stack, client, "738-30000002")
        restarted = time.perf_counter()
        stack.start("customs")
        ready = time.perf_counter() - restarted
        await until(lambda: _arrived(stack, client, waiting["shipment_id"]), timeout=60)
        print(
            f"\nkill -9 customs, restart: ready after {ready:.1f}s,"
            f" consuming again after {time.perf_counter() - restarted:.1f}s"
        )


async def test_a_broker_outage_is_logged_in_a_few_lines(stack: Stack, kafka: KafkaBroker) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        first = await announce_and_arrive(stack, client, "738-30000003")
        await until(lambda: _arrived(stack, client, first["shipment_id"]))
        before = {name: _lines(stack, name) for name in stack.running}

        kafka.stop()
        await asyncio.sleep(10)  # the outage, with every service running
        kafka.start()

        after_outage = await announce_and_arrive(stack, client, "738-30000004")
        await until(lambda: _arrived(stack, client, after_outage["shipment_id"]), timeout=90)
        await until(lambda: _outage_ended(stack), timeout=30)
    logged = {name: _lines(stack, name) - before[name] for name in stack.running}
    print(f"\nlog lines during a 10s broker outage and its recovery: {logged}")
    assert all(count <= 40 for count in logged.values()), logged


async def _outage_ended(stack: Stack) -> bool:
    logs = [(stack.log_dir / f"{name}.log").read_text() for name in stack.running]
    return all("broker: outage ended after" in text for text in logs)


def _lines(stack: Stack, service: str) -> int:
    return len((stack.log_dir / f"{service}.log").read_bytes().splitlines())


async def _arrived(stack: Stack, client: httpx.AsyncClient, shipment_id: str) -> bool:
    return await case_status(stack, client, shipment_id) == "arrived"
