"""kill -9 of every part of ``make run``'s stack under load; it heals without anyone's help.

``python -m shared.devstack`` runs as it does for ``make run`` (own data folder, free ports).
Consignments go through the public HTTP API at a steady rate (announce, arrival, fast-track),
as clients that retry outages with the same Idempotency-Key do. Meanwhile each service, the
Kafka broker and the PostgreSQL postmaster is killed with SIGKILL in turn, one after the
other once the stack has recovered. In the end every consignment has its 34 notices, with
nothing lost (notices + reserve == cleared quantity), nothing twice and nothing parked.

Each fault's recovery is measured and printed, not asserted (the machine's load decides it):
``ready`` is kill -> every service answers /health/ready 200 again; ``flowing`` is kill ->
a consignment announced at the moment of the kill has its allocation round, so the whole
pipeline consumes again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth import DEMO_PASSWORD
from shared.infra.kafka_broker import free_port
from shared.reference_data import province_codes
from tests.e2e.flows import arrival_of, vaccine_consignment

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "customs", "allocation")
FAULTS = ("intake", "customs", "allocation", "kafka", "postgres")
STARTUP_BUDGET = 240.0  # a first start: initdb, broker format, three services, on a busy machine
CALL_BUDGET = 90.0  # one client call retried through an outage
RECOVERY_BUDGET = 90.0  # one fault, until the pipeline flows again
DRAIN_BUDGET = 180.0  # after the last fault, until every consignment has its notices
LOAD_INTERVAL = 0.7  # seconds between two new consignments (about 1.4 per second)
SETTLE = 3.0  # seconds of load between recovery from one fault and the next kill


@dataclass
class Devstack:
    data: Path
    ports: dict[str, int]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        """``python -m shared.devstack``, as ``make run`` starts it; returns once it supervises
        (once it has written its status file)."""
        launched = time.time()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "shared.devstack"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_BUDGET
        while not self.status() or self._status_file.stat().st_mtime < launched:
            if self.process.poll() is not None:
                pytest.fail(f"the devstack exited while starting:\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the devstack did not start in {STARTUP_BUDGET}s:\n{self.output()}")
            time.sleep(0.5)

    def output(self) -> str:
        return self.log.read_text()[-6000:]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def _status_file(self) -> Path:
        return self.data / "supervisor.json"

    def status(self) -> dict[str, Any]:
        try:
            status: dict[str, Any] = json.loads(self._status_file.read_text())
        except (OSError, ValueError):
            return {}
        return status

    def pid(self, child: str) -> int:
        pid = self.status()[child]["pid"]
        assert isinstance(pid, int), f"{child} is not running: {self.status()}"
        return pid

    def database_url(self, name: str) -> str:
        lines = (self.data / "postgres" / "postmaster.pid").read_text().splitlines()
        return f"postgresql://postgres@/{name}?host={lines[4].strip()}&port={lines[3].strip()}"

    def stop(self) -> None:
        """SIGTERM as a person would (Ctrl-C); check that nothing it started is left."""
        assert self.process is not None
        children = [c["pid"] for c in self.status().values() if c.get("pid")]
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        left = [pid for pid in children if _running(pid)]
        for pid in left:  # cleaned up before failing, so that no other test inherits them
            os.kill(pid, signal.SIGKILL)
        assert self.process.returncode == 0
        assert not left, f"processes left behind by the devstack: {left}"
        assert {child["state"] for child in self.status().values()} == {"stopped"}


@pytest.fixture
def devstack(tmp_path: Path) -> Iterator[Devstack]:
    data = tmp_path / "data"
    ports = {name: free_port() for name in (*SERVICES, "kafka", "controller")}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.endswith("_DATABASE_URL")
        and key not in ("KAFKA_BOOTSTRAP_SERVERS", "AIDPORT_JWT_SECRET")
    }
    env |= {f"{name.upper()}_PORT": str(ports[name]) for name in SERVICES}
    env |= {
        "AIDPORT_DATA_DIR": str(data),
        "KAFKA_PORT": str(ports["kafka"]),
        "KAFKA_CONTROLLER_PORT": str(ports["controller"]),
        "AIDPORT_LOG_LEVEL": "INFO",
    }
    stack = Devstack(data, ports, env, tmp_path / "devstack.log")
    try:
        stack.launch()
        yield stack
    finally:
        if stack.process is not None:
            stack.stop()
        print(f"\n--- devstack output ---\n{stack.output()}")


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


# -- a client that retries outages like a person with patience ------------------------------


class Client:
    """Calls the stack's APIs; retries connection errors, 5xx and 429 with the same request
    (so the same Idempotency-Key), and logs in again on 401."""

    def __init__(self, http: httpx.AsyncClient, stack: Devstack) -> None:
        self.http = http
        self.stack = stack
        self.tokens: dict[tuple[str, str], str] = {}
        self.retries = 0

    async def call(
        self, service: str, user: str, method: str, path: str, key: str | None = None, **kw: Any
    ) -> httpx.Response:
        deadline = time.monotonic() + CALL_BUDGET
        last = "no attempt"
        while time.monotonic() < deadline:
            response = await self._attempt(service, user, method, path, key, **kw)
            if isinstance(response, httpx.Response):
                if response.status_code == 401:
                    self.tokens.pop((service, user), None)
                elif response.status_code < 500 and response.status_code != 429:
                    return response
                last = f"{response.status_code} {response.text[:200]}"
            else:
                last = response
            self.retries += 1
            await asyncio.sleep(0.5)
        raise AssertionError(f"{method} {service}{path}: no answer in {CALL_BUDGET}s ({last})")

    async def _attempt(
        self, service: str, user: str, method: str, path: str, key: str | None, **kw: Any
    ) -> httpx.Response | str:
        try:
            token = await self._token(service, user)
            if not isinstance(token, str):
                return token
            headers = {"Authorization": f"Bearer {token}"}
            if key is not None:
                headers["Idempotency-Key"] = key
            url = f"{self.stack.url(service)}{path}"
            return await self.http.request(method, url, headers=headers, **kw)
        except httpx.TransportError as error:
            return repr(error)

    async def _token(self, service: str, user: str) -> str | httpx.Response:
        if (service, user) not in self.tokens:
            response = await self.http.post(
                f"{self.stack.url(service)}/api/v1/auth/token",
                data={"username": user, "password": DEMO_PASSWORD},
            )
            if response.status_code != 200:
                return response
            self.tokens[service, user] = response.json()["access_token"]
        return self.tokens[service, user]


# -- the consignments ----------------------------------------------------------------------


@dataclass
class Consignment:
    airway_bill: str
    doses: int
    shipment_id: str = ""
    cleared: int = 0
    round_at: float | None = None  # when its allocation round was first seen (monotonic)


async def flow(client: Client, consignment: Consignment) -> None:
    """Announce, arrival, wait for customs to see the arrival, fast-track; then the round."""
    bill = consignment.airway_bill
    announced = await client.call(
        "intake",
        "intake.han",
        "POST",
        "/api/v1/shipments",
        key=f"announce-{bill}",
        json=vaccine_consignment(bill, consignment.doses),
    )
    assert announced.status_code == 201, announced.text
    shipment = announced.json()
    consignment.shipment_id = shipment_id = shipment["shipment_id"]
    arrived = await client.call(
        "intake",
        "intake.han",
        "POST",
        f"/api/v1/shipments/{shipment_id}/arrival",
        key=f"arrival-{bill}",
        json=arrival_of(shipment),
    )
    assert arrived.status_code == 200, arrived.text
    await _until(lambda: _customs_has_arrival(client, shipment_id), CALL_BUDGET * 2)
    cleared = await client.call(
        "customs",
        "customs.han",
        "POST",
        f"/api/v1/clearances/{shipment_id}/fast-track",
        key=f"fast-track-{bill}",
        json={"declaration_number": f"D{bill}", "lane": "green", "examination": "none"},
    )
    assert cleared.status_code == 200, cleared.text
    consignment.cleared = sum(line["quantity"] for line in cleared.json()["cleared_lines"])
    await _until(lambda: _round(client, shipment_id), CALL_BUDGET * 2)
    consignment.round_at = time.monotonic()


async def _customs_has_arrival(client: Client, shipment_id: str) -> bool:
    case = await client.call("customs", "customs.han", "GET", f"/api/v1/clearances/{shipment_id}")
    return case.status_code == 200 and case.json()["status"] in ("arrived", "cleared")


async def _round(client: Client, shipment_id: str) -> dict[str, Any] | None:
    path = f"/api/v1/rounds/{shipment_id}"
    response = await client.call("allocation", "allocation.moh", "GET", path)
    return response.json() if response.status_code == 200 else None


async def _until(probe: Any, budget: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if result := await probe():
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {budget}s")


@dataclass
class Load:
    """New consignments at a steady rate until stopped; every flow is kept to be awaited."""

    client: Client
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    consignments: list[Consignment] = field(default_factory=list)
    flows: list[asyncio.Task[None]] = field(default_factory=list)

    def start_one(self, label: str = "0") -> Consignment:
        n = next(self.numbers)
        consignment = Consignment(f"738-{label}{n:07d}", doses=100_000 + (n % 50) * 7_770)
        self.consignments.append(consignment)
        self.flows.append(asyncio.create_task(flow(self.client, consignment)))
        return consignment

    async def run(self) -> None:
        while True:
            self.start_one()
            await asyncio.sleep(LOAD_INTERVAL)


# -- the faults ----------------------------------------------------------------------------


@dataclass
class Recovery:
    fault: str
    ready: float
    flowing: float


async def kill_and_recover(stack: Devstack, client: Client, load: Load, fault: str) -> Recovery:
    restarts = stack.status()[fault]["restarts"]
    pid = stack.pid(fault)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    probe = load.start_one(label="9")  # announced at the moment of the kill
    await _until(lambda: _restarted(stack, fault, restarts), RECOVERY_BUDGET, 0.1)
    await _until(lambda: _all_ready(client), RECOVERY_BUDGET, 0.2)
    ready = time.monotonic() - killed
    await _until(lambda: _has_round(probe), RECOVERY_BUDGET, 0.2)
    assert probe.round_at is not None
    return Recovery(fault, ready, probe.round_at - killed)


async def _restarted(stack: Devstack, fault: str, restarts: int) -> bool:
    child = stack.status().get(fault, {})
    return bool(child.get("state") == "running" and child.get("restarts", 0) > restarts)


async def _all_ready(client: Client) -> bool:
    for service in SERVICES:
        try:
            response = await client.http.get(f"{client.stack.url(service)}/health/ready")
        except httpx.TransportError:
            return False
        if response.status_code != 200:
            return False
    return True


async def _has_round(consignment: Consignment) -> bool:
    return consignment.round_at is not None


# -- the checks ----------------------------------------------------------------------------


async def all_notices(client: Client) -> list[dict[str, Any]]:
    notices: list[dict[str, Any]] = []
    for code in province_codes():
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
            page = await client.call(
                "allocation",
                f"province-{code}",
                "GET",
                f"/api/v1/provinces/{code}/notices",
                params=params,
            )
            assert page.status_code == 200, page.text
            notices += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
    return notices


async def stored_duplicates(stack: Devstack) -> dict[str, int]:
    """Per event store: events recorded twice for one fact (a stream's event of one type,
    or one province's allocation of one line), and messages parked."""
    found = {}
    for service in SERVICES:
        conn = await asyncpg.connect(stack.database_url(service))
        try:
            found[f"{service} duplicate events"] = await conn.fetchval(
                """SELECT count(*) FROM (
                     SELECT 1 FROM events
                      GROUP BY stream_id, event_type, data->>'province_code', data->>'line_no'
                     HAVING count(*) > 1) AS twice"""
            )
            found[f"{service} parked"] = await conn.fetchval("SELECT count(*) FROM parked_messages")
        finally:
            await conn.close()
    return found


@pytest.fixture
async def client(devstack: Devstack) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(timeout=15) as http:
        yield Client(http, devstack)


async def test_kill_9_of_each_part_under_load_heals_without_anyone(
    devstack: Devstack, client: Client
) -> None:
    load = Load(client)
    generator = asyncio.create_task(load.run())
    recoveries = []
    try:
        await asyncio.sleep(SETTLE)
        for fault in FAULTS:
            recoveries.append(await kill_and_recover(devstack, client, load, fault))
            await asyncio.sleep(SETTLE)
    finally:
        generator.cancel()
    async with asyncio.timeout(DRAIN_BUDGET):
        await asyncio.gather(*load.flows)

    notices = await all_notices(client)
    by_shipment: dict[str, list[dict[str, Any]]] = {}
    for notice in notices:
        by_shipment.setdefault(notice["shipment_id"], []).append(notice)
    numbers = [n["notice_number"] for n in notices]
    lost, twice = [], []
    for consignment in load.consignments:
        mine = by_shipment.get(consignment.shipment_id, [])
        round_ = await _round(client, consignment.shipment_id)
        assert round_ is not None
        reserve = sum(line["reserve_quantity"] for line in round_["lines"])
        if sum(n["quantity"] for n in mine) + reserve != consignment.cleared:
            lost.append(consignment.airway_bill)
        if sorted(n["province_code"] for n in mine) != sorted(province_codes()):
            twice.append(consignment.airway_bill)

    print(
        f"\n{len(load.consignments)} consignments, {len(notices)} notices, "
        f"{client.retries} client retries"
    )
    for r in recoveries:
        print(f"kill -9 {r.fault:<10} ready again {r.ready:5.1f}s, flowing again {r.flowing:5.1f}s")
    restarts = {name: child["restarts"] for name, child in devstack.status().items()}
    print(f"restarts counted by the supervisor: {restarts}")

    assert len(by_shipment) == len(load.consignments)
    assert not lost, f"quantities lost or doubled: {lost}"
    assert not twice, f"not exactly one notice per province: {twice}"
    assert len(numbers) == len(set(numbers)) == 34 * len(load.consignments)
    assert all(restarts[fault] >= 1 for fault in FAULTS), restarts
    assert not any((await stored_duplicates(devstack)).values())

    # The supervisor itself killed: a new one on the same folder takes over what is left.
    assert devstack.process is not None
    devstack.process.kill()
    devstack.process.wait()
    killed = time.monotonic()
    await asyncio.to_thread(devstack.launch)
    await _until(lambda: _all_ready(client), RECOVERY_BUDGET, 0.2)
    print(f"kill -9 devstack: a new one serving in {time.monotonic() - killed:.1f}s")
    load.start_one(label="8")
    async with asyncio.timeout(DRAIN_BUDGET):
        await load.flows[-1]
    assert len(await all_notices(client)) == len(notices) + 34
