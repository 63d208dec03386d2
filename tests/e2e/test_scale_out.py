"""Two processes of each service on the same databases and broker, one of each killed mid-load.

Every command carries an Idempotency-Key and goes to one replica, and to the other when the
first does not answer. While the load runs, both consumer replicas of customs and allocation
handle events (they share the partitions); then the replica holding each service's relay
lock is killed with SIGKILL, and the other one takes the relay over. At the end every
consignment has its 34 notices exactly once, and notices + reserve == the cleared quantity.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from shared.devstack import ServiceProcess
from shared.reference_data import province_codes
from shared.settings import SERVICES
from tests.e2e.flows import arrival_of, vaccine_consignment
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e

CONSIGNMENTS = 36
CONCURRENCY = 6
KILL_AFTER = CONSIGNMENTS // 3  # fast-tracked consignments before the kills
DOSES = 811_200


class Replicas:
    """The two processes of each service, the tokens, and commands that fail over."""

    def __init__(self, stack: Stack, client: httpx.AsyncClient) -> None:
        self.stack, self.client = stack, client
        self.processes = {n: [stack.running[n], stack.replicas[f"{n}-b"]] for n in SERVICES}
        self.tokens: dict[tuple[str, str], str] = {}

    async def sign_in(self, user: str, service: str) -> None:
        self.tokens[service, user] = await self.stack.token(self.client, user, service)

    def alive(self, service: str, first: int) -> list[ServiceProcess]:
        ordered = self.processes[service][first % 2 :] + self.processes[service][: first % 2]
        return [p for p in ordered if p.process.poll() is None]

    async def request(
        self, user: str, method: str, service: str, path: str, first: int = 0, **kwargs: Any
    ) -> httpx.Response:
        """To replica ``first`` (mod 2), to the other one when it does not answer."""
        headers = {"Authorization": f"Bearer {self.tokens[service, user]}"}
        headers |= kwargs.pop("headers", {})
        deadline = time.monotonic() + 60
        while True:
            for replica in self.alive(service, first):
                try:
                    response = await self.client.request(
                        method, f"{replica.url}{path}", headers=headers, **kwargs
                    )
                except httpx.TransportError:
                    continue
                if response.status_code < 500:
                    return response
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} {path}: no replica of {service} answered")
            await asyncio.sleep(0.2)

    async def consumed(self, replica: ServiceProcess, service: str) -> float:
        """Events this replica's consumer handled (its own /metrics)."""
        token = self.tokens[service, "admin"]
        response = await self.client.get(
            f"{replica.url}/metrics", headers={"Authorization": f"Bearer {token}"}
        )
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in response.text.splitlines()
            if line.startswith("aidport_consumed_total{") and 'outcome="handled"' in line
        )

    async def relay_holder(self, service: str) -> ServiceProcess | None:
        for replica in self.alive(service, 0):
            with_relay = await self.client.get(f"{replica.url}/health/ready")
            reason = with_relay.json()["components"]["relay"]["reason"]
            if reason.startswith("publishing"):
                return replica
        return None


async def _consignment(replicas: Replicas, index: int, cleared: dict[str, int]) -> None:
    body = vaccine_consignment(f"738-2{index:07d}", DOSES)
    key = {"Idempotency-Key": f"scale-announce-{index}"}
    announced = await replicas.request(
        "intake.han", "POST", "intake", "/api/v1/shipments", index, json=body, headers=key
    )
    assert announced.status_code == 201, announced.text
    shipment = announced.json()
    shipment_id = shipment["shipment_id"]
    arrived = await replicas.request(
        "intake.han",
        "POST",
        "intake",
        f"/api/v1/shipments/{shipment_id}/arrival",
        index,
        json=arrival_of(shipment),
        headers={"Idempotency-Key": f"scale-arrival-{index}"},
    )
    assert arrived.status_code == 200, arrived.text
    case_path = f"/api/v1/clearances/{shipment_id}"

    async def case_arrived() -> bool:
        response = await replicas.request("customs.han", "GET", "customs", case_path, index)
        return response.status_code == 200 and response.json()["status"] == "arrived"

    await until(case_arrived, timeout=90, interval=0.2)
    tracked = await replicas.request(
        "customs.han",
        "POST",
        "customs",
        f"{case_path}/fast-track",
        index,
        json={"declaration_number": f"D{index}", "lane": "green", "examination": "none"},
        headers={"Idempotency-Key": f"scale-clearance-{index}"},
    )
    assert tracked.status_code == 200, tracked.text
    cleared[shipment_id] = sum(line["quantity"] for line in tracked.json()["cleared_lines"])


async def _kill_relay_holders(replicas: Replicas) -> dict[str, float]:
    """Kill -9 the relay holder of each service; seconds until the other replica publishes."""
    failover = {}
    for service in SERVICES:
        holder = await replicas.relay_holder(service)
        assert holder is not None, f"no replica of {service} publishes"
        holder.process.kill()
        holder.process.wait()
        killed_at = time.monotonic()
        await until(lambda s=service: replicas.relay_holder(s), timeout=60, interval=0.1)
        failover[service] = time.monotonic() - killed_at
    return failover


async def _inboxes(replicas: Replicas) -> list[dict[str, Any]]:
    notices = []
    for code in province_codes():
        response = await replicas.request(
            f"province-{code}",
            "GET",
            "allocation",
            f"/api/v1/provinces/{code}/notices",
            params={"limit": 200},
        )
        assert response.status_code == 200, response.text
        notices += response.json()["items"]
    return notices


async def test_two_replicas_of_each_service_survive_losing_one(stack: Stack) -> None:
    stack.start()
    for name in SERVICES:
        stack.start_replica(name, "b")
    async with httpx.AsyncClient(timeout=30) as client:
        replicas = Replicas(stack, client)
        for service, user in [("intake", "intake.han"), ("customs", "customs.han")]:
            await replicas.sign_in(user, service)
        for service in SERVICES:
            await replicas.sign_in("admin", service)
        await replicas.sign_in("allocation.moh", "allocation")
        for code in province_codes():
            await replicas.sign_in(f"province-{code}", "allocation")

        cleared: dict[str, int] = {}
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(index: int) -> None:
            async with gate:
                await _consignment(replicas, index, cleared)

        load = asyncio.gather(*(one(i) for i in range(CONSIGNMENTS)))
        loading = asyncio.ensure_future(load)

        async def enough_cleared() -> bool:
            if loading.done():
                loading.result()  # a failed consignment fails the test now
            return len(cleared) >= KILL_AFTER

        await until(enough_cleared, timeout=120)

        handled = {}
        for service in ("customs", "allocation"):  # both consumers took part before the kill
            for replica in replicas.processes[service]:
                handled[f"{service} {replica.port}"] = await replicas.consumed(replica, service)
        failover = await _kill_relay_holders(replicas)
        await loading

        expected = len(cleared) * len(province_codes())
        notices = await until(lambda: _when_complete(replicas, expected), timeout=120, interval=0.5)
        print(f"\nevents handled per consumer replica before the kill: {handled}")
        print(
            f"relay failover after kill -9 (s): { {k: round(v, 2) for k, v in failover.items()} }"
        )
        print(f"{len(cleared)} consignments, {len(notices)} notices")

        assert all(count > 0 for count in handled.values()), handled
        per_pair = Counter((n["shipment_id"], n["province_code"]) for n in notices)
        assert set(per_pair.values()) == {1}, "a province got a notice twice"
        per_consignment = Counter(n["shipment_id"] for n in notices)
        assert per_consignment == dict.fromkeys(cleared, len(province_codes()))
        for shipment_id, quantity in cleared.items():
            round_ = await replicas.request(
                "allocation.moh", "GET", "allocation", f"/api/v1/rounds/{shipment_id}"
            )
            reserve = sum(line["reserve_quantity"] for line in round_.json()["lines"])
            allocated = sum(n["quantity"] for n in notices if n["shipment_id"] == shipment_id)
            assert allocated + reserve == quantity == DOSES


async def _when_complete(replicas: Replicas, expected: int) -> list[dict[str, Any]] | None:
    notices = await _inboxes(replicas)
    return notices if len(notices) >= expected else None
