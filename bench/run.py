"""``make bench``: the command path measured against a bare endpoint, on this machine.

Starts its own PostgreSQL and Kafka in a temporary folder, the three services and the bare
FastAPI + asyncpg endpoint (``bench/baseline.py``) as processes, loads them through their
public HTTP APIs with one lean client (``bench/client.py``), prints a table and writes
``bench/results/latest.json``. It asserts nothing: the targets are printed beside the figures.

The phases, in order (about 2-4 minutes on 2 cores):
1. the client's own ceiling (the bare endpoint's ``/ping``, no database);
2. bare INSERT, then announce, 32 clients each (interleaved, each after 2 s of unmeasured
   warm-up); once the services have settled, announce at half that rate;
3. more announcements, then the arrival of each, customs still stopped: an intake
   backlog of up to 10,000 events;
4. customs started: catch-up of that backlog, beside asyncpg executemany of as many rows;
   once the services have settled, the same messages read again by a bare consumer
   (``bench/bare_consumer.py``: aiokafka and asyncpg with nothing between them);
5. once the services have settled (customs' relay and allocation done with the catch-up's
   events), intake's projections rebuilt (``POST /admin/projections/rebuild``), the first
   run measured, two more recorded; then customs' projection, once;
6. bare INSERT again, then fast-track, 32 clients; once allocation has worked off that
   loop's releases, fast-track at half that rate;
7. once allocation has drafted the rounds of every cleared case and the services have
   settled, fast-track -> the 34th notice, open loop at 20 and at 50 consignments/s;
8. the resident memory of every process, sampled throughout (peak), and the CPU seconds
   each process used during the main phases (where the time goes);
9. the disk's flush latency during the half-rate and latency runs (``bench/storage.py``):
   a commit waits for a flush, so a stalling disk shows in those runs' tails.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import psutil  # type: ignore[import-untyped]

from bench.bare_consumer import drain
from bench.client import Connection, Job, Run, closed_loop, open_loop
from bench.storage import FsyncProbe
from shared.auth import DEMO_PASSWORD
from shared.devstack import ServiceProcess, service_env, start_service, wait_ready
from shared.infra.kafka_broker import KafkaBroker, create_topics, ensure_kafka_jars, free_port
from shared.infra.postgres import EmbeddedPostgres
from shared.settings import SERVICES, all_topics, topic_of

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
CLIENTS = 32
PHASE_SECONDS = float(os.environ.get("BENCH_PHASE_SECONDS", 10))
HALF_RATE_SECONDS = 5.0
LATENCY_RATES = ((20, 100), (50, 200))  # consignments/s, how many
PROVINCES = 34
FAST_TRACK_CANDIDATES = 1200  # at least, for the fast-track runs at full and at half rate
REBUILD_REPEATS = 2  # after the measured rebuild, for the record
INTAKE_TOPIC = topic_of("intake", "bench")
BARE_PHASES = {
    "announce": "bare INSERT before announce, 32 clients",
    "fast-track": "bare INSERT before fast-track, 32 clients",
}
BUSY = ("postgres", "kafka", "client")  # beside the service: what a request costs elsewhere
CATCH_UP_EVENTS = 10_000  # the intake backlog customs catches up on, when time allows
TARGETS = {
    "commands_vs_baseline": ">= 0.70",
    "commands_p99_at_half_rate_ms": "< 50",
    "catch_up_events_per_s": ">= 20000",
    "catch_up_vs_executemany": ">= 0.50",
    "rebuild_events_per_s": ">= 50000",
    "fast_track_to_34_notices_p99_ms_at_50": "< 250",
    "service_rss_mb": "< 150",
}


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


def consignment(index: int) -> dict[str, Any]:
    """A valid announcement, unique by its airway bill (IATA check digit: serial mod 7)."""
    serial = 1_000_000 + index
    expiry = (date.today() + timedelta(days=200)).isoformat()
    return {
        "donor": "COVAX",
        "channel": "covax",
        "airport": "HAN",
        "flight": "VN0317",
        "airway_bill": f"618-{serial:07d}{serial % 7}",
        "expected_arrival": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "consignee": "National Expanded Programme on Immunization",
        "lines": [
            {
                "product": "Vaxzevria (AstraZeneca)",
                "category": "vaccine",
                "unit": "doses",
                "pack_size": 10,
                "quantity": 811_200,
                "storage": "2-8C",
                "lots": [
                    {"lot_number": "ABV5300", "expiry_date": expiry, "quantity": 507_000},
                    {"lot_number": "ABV5301", "expiry_date": expiry, "quantity": 304_200},
                ],
            }
        ],
    }


def arrival(shipment: dict[str, Any]) -> dict[str, Any]:
    received = [
        {"line_no": line["line_no"], "lot_number": lot["lot_number"], "quantity": lot["quantity"]}
        for line in shipment["lines"]
        for lot in line["lots"]
    ]
    return {"arrived_at": datetime.now(UTC).isoformat(), "received": received}


class Bench:
    def __init__(
        self,
        postgres: EmbeddedPostgres,
        kafka: KafkaBroker,
        logs: Path,
        probe: FsyncProbe | None = None,
    ) -> None:
        self.postgres, self.kafka, self.logs, self.probe = postgres, kafka, logs, probe
        self.urls = {}
        for name in [*SERVICES, "baseline"]:
            postgres.create_database(f"bench_{name}")
            self.urls[name] = postgres.database_url(f"bench_{name}")
        self.env = service_env({n: self.urls[n] for n in SERVICES}, kafka.bootstrap_servers)
        self.env |= {"AIDPORT_TOPIC_PREFIX": "bench", "AIDPORT_LOG_LEVEL": "WARNING"}
        self.ports = {name: free_port() for name in [*SERVICES, "baseline"]}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.rss_peak: dict[str, float] = {}
        self.tokens: dict[str, str] = {}
        self.results: dict[str, Any] = {}

    # -- processes ---------------------------------------------------------------------
    def start(self, *names: str) -> None:
        started = []
        for name in names:
            if name == "baseline":
                self.processes[name] = self._start_baseline()
                continue
            service = start_service(name, self.ports[name], self.env, self.logs)
            self.processes[name] = service.process
            started.append(service)
        for service in started:
            wait_ready(service, timeout=120)
        if "baseline" in names:
            wait_ready(
                ServiceProcess("baseline", self.ports["baseline"], self.processes["baseline"])
            )

    def _start_baseline(self) -> subprocess.Popen[bytes]:
        env = os.environ | {
            "BENCH_DATABASE_URL": self.urls["baseline"],
            "BENCH_PORT": str(self.ports["baseline"]),
        }
        with (self.logs / "baseline.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "bench.baseline"], cwd=ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
            if process.poll() is None:
                process.kill()

    async def sample_rss(self) -> None:
        """The peak resident memory of each process, every half second."""
        me = psutil.Process()
        while True:
            for name, process in [*self.processes.items(), ("client", None)]:
                with contextlib.suppress(psutil.Error):
                    rss = (psutil.Process(process.pid) if process else me).memory_info().rss
                    self.rss_peak[name] = max(self.rss_peak.get(name, 0.0), rss / 2**20)
            await asyncio.sleep(0.5)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each process: PostgreSQL counts its postmaster, its live
        backends and those that ended; the client is this process."""
        pids: dict[str, int | None] = {name: p.pid for name, p in self.processes.items()}
        pids |= {"postgres": self.postgres.pid(), "kafka": self.kafka.pid()}
        used = {"client": _cpu(psutil.Process(), with_children=False)}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error, TypeError):
                process = psutil.Process(pid)
                used[name] = sum(_cpu(p) for p in [process, *process.children(recursive=True)])
        return used

    async def settle(self, limit: float = 30.0) -> float:
        """Waits (at most ``limit`` seconds) until the services and Kafka have finished what
        the last phase left them (relays publishing, consumers catching up): less than 5% of
        a core each over half a second. Returns the seconds waited."""
        started = time.perf_counter()
        before = self.cpu_seconds()
        while time.perf_counter() - started < limit:
            await asyncio.sleep(0.5)
            now = self.cpu_seconds()
            busy = [
                k
                for k in now
                if k not in ("client", "baseline") and now[k] - before.get(k, 0) > 0.025
            ]
            if not busy:
                break
            before = now
        return round(time.perf_counter() - started, 1)

    @contextlib.asynccontextmanager
    async def cpu_during(self, phase: str) -> AsyncIterator[None]:
        """Records the CPU seconds each process used while ``phase`` ran: where time goes."""
        before, started = self.cpu_seconds(), time.perf_counter()
        yield
        after, seconds = self.cpu_seconds(), time.perf_counter() - started
        used = {k: round(v - before.get(k, 0.0), 2) for k, v in after.items()}
        self.results.setdefault("cpu_seconds", {})[phase] = {
            "wall": round(seconds, 2),
            "by_process": {k: v for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v},
        }

    @contextlib.contextmanager
    def disk_during(self, phase: str) -> Iterator[None]:
        """Records what the flush probe (if any) saw while ``phase`` ran."""
        started = time.perf_counter()
        yield
        if self.probe is not None:
            flushes = self.probe.between(started, time.perf_counter())
            self.results.setdefault("disk_flush", {})[phase] = flushes

    # -- HTTP helpers --------------------------------------------------------------------
    async def token(self, user: str, service: str) -> str:
        if (key := f"{service}/{user}") not in self.tokens:
            form = urllib.parse.urlencode({"username": user, "password": DEMO_PASSWORD})
            status, body = await Connection(self.ports[service]).request(
                "POST",
                "/api/v1/auth/token",
                form.encode(),
                content_type="application/x-www-form-urlencoded",
            )
            assert status == 200, body
            self.tokens[key] = orjson.loads(body)["access_token"]
        return self.tokens[key]

    async def database(self, name: str) -> asyncpg.Connection:
        return await asyncpg.connect(self.urls[name])


async def measure(bench: Bench) -> None:
    sampler = asyncio.create_task(bench.sample_rss())
    say("starting the bare endpoint, intake and allocation (customs waits for its backlog)")
    bench.start("baseline", "intake", "allocation")
    base = bench.ports["baseline"]

    async def bare_insert(connection: Connection, index: int) -> bool:
        status, _ = await connection.request("POST", "/rows", orjson.dumps(consignment(index)))
        return status == 201

    async def ping(connection: Connection, index: int) -> bool:
        return (await connection.request("GET", "/ping"))[0] == 200

    say("client ceiling: GET /ping on the bare endpoint (no database)")
    ceiling = await closed_loop(base, ping, CLIENTS, PHASE_SECONDS / 2)
    bench.results["client_ceiling"] = ceiling.summary()
    await closed_loop(base, bare_insert, CLIENTS, 2.0)  # warm-up
    arrived_ids = await intake_phases(bench, bare_insert)
    await catch_up(bench, bench.results["intake_events"])
    bench.results["settled_before_bare_consumer_s"] = await bench.settle()
    await bare_catch_up(bench)
    bench.results["settled_before_rebuild_s"] = await bench.settle()
    await rebuild(bench)
    await fast_track(bench, arrived_ids, bare_insert)
    sampler.cancel()
    bench.results["rss_peak_mb"] = {k: round(v, 1) for k, v in bench.rss_peak.items()}


async def intake_phases(bench: Bench, bare_insert: Job) -> list[str]:
    """Bare INSERT and announce interleaved, announce at half rate, then the backlog:
    more announcements and the arrival of each. Returns the arrived shipments' ids."""
    intake_token = await bench.token("intake.han", "intake")
    say("bare INSERT endpoint, 32 clients")
    async with bench.cpu_during(BARE_PHASES["announce"]):
        baseline_1 = await closed_loop(bench.ports["baseline"], bare_insert, CLIENTS, PHASE_SECONDS)
    shipments: list[dict[str, Any]] = []
    airway_bills = itertools.count(100_000)  # unique across the closed and open loops

    async def announce(connection: Connection, index: int) -> bool:
        body = consignment(next(airway_bills))
        status, body = await connection.json("POST", "/api/v1/shipments", body, intake_token)
        if status == 201:
            shipments.append(body)
        return status == 201

    # Unmeasured, as the bare endpoint's warm-up: the first load of the broker (the JVM's
    # compiler at work) and of intake's pools and statement caches.
    await closed_loop(bench.ports["intake"], announce, CLIENTS, 2.0)
    say("announce, 32 clients")
    async with bench.cpu_during("announce, 32 clients"):
        announced = await closed_loop(bench.ports["intake"], announce, CLIENTS, PHASE_SECONDS)
    bench.results["settled_before_announce_half_rate_s"] = await bench.settle()
    say(f"announce at half that rate ({announced.rate / 2:.0f}/s), open loop")
    count = int(announced.rate / 2 * HALF_RATE_SECONDS)
    with bench.disk_during("announce at half rate"):
        announced_half = await open_loop(bench.ports["intake"], announce, announced.rate / 2, count)
    bench.results["announce"] = _command(announced, baseline_1, announced_half)

    # Enough consignments for the fast-track runs, and a backlog of up to CATCH_UP_EVENTS
    # intake events (an announcement and an arrival each), within a bounded time.
    wanted = max(sum(n for _, n in LATENCY_RATES) + FAST_TRACK_CANDIDATES, CATCH_UP_EVENTS // 2)
    if len(shipments) < wanted:
        say(f"more announcements, unmeasured, up to {wanted} consignments")
        await closed_loop(bench.ports["intake"], announce, CLIENTS, 90, wanted - len(shipments))
    arrived_ids: list[str] = []

    async def arrive(connection: Connection, index: int) -> bool:
        shipment = shipments[index]
        path = f"/api/v1/shipments/{shipment['shipment_id']}/arrival"
        status, _ = await connection.json("POST", path, arrival(shipment), intake_token)
        if status == 200:
            arrived_ids.append(shipment["shipment_id"])
        return status == 200

    say(f"arrival of the {len(shipments)} shipments, 32 clients (customs stopped: a backlog)")
    arrived = await closed_loop(bench.ports["intake"], arrive, CLIENTS, 120, len(shipments))
    bench.results["arrival"] = arrived.summary()

    bench.results["intake_events"] = len(shipments) + len(arrived_ids)
    return arrived_ids


def _command(closed: Run, baseline: Run, half: Run) -> dict[str, Any]:
    return {
        "closed_loop_32": closed.summary(),
        "baseline_32": baseline.summary(),
        "ratio_to_baseline": round(closed.rate / baseline.rate, 3) if baseline.rate else None,
        "half_rate_open_loop": half.summary(),
    }


async def catch_up(bench: Bench, events: int) -> None:
    """Customs consumes the intake backlog (each announcement opens a case, each arrival
    moves it): ``events`` of its messages act on customs, timed from the last poll before it
    consumed anything to the first that found every message consumed. Progress is read
    from customs' stored offsets (a few rows): counting the cases every 10 ms took
    PostgreSQL 1-2 ms a poll, a fifth of its CPU in this phase, from the work measured."""
    say(f"customs started: catch-up of {events} intake events")
    intake = await bench.database("intake")
    published = await intake.fetchval("SELECT count(*) FROM events")  # all on the topic
    await intake.close()
    bench.start("customs")
    conn = await bench.database("customs")
    consumed_sql = "SELECT coalesce(sum(next_offset), 0)::bigint FROM consumer_offsets"
    consumed = first = await conn.fetchval(consumed_sql)  # 0 unless it began while starting
    opened = finished = time.perf_counter()
    deadline = time.perf_counter() + 180
    async with bench.cpu_during("catch-up, once customs is ready"):
        while consumed < published and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
            consumed = await conn.fetchval(consumed_sql)
            finished = time.perf_counter()
            if consumed == 0:
                opened = finished
    seconds = finished - opened
    done = await conn.fetchval(
        "SELECT count(*) + count(*) FILTER (WHERE status <> 'awaiting_arrival')"
        " FROM clearance_cases"
    )
    counted = events * (published - first) / published if published else 0
    rate = counted / seconds if seconds > 0 and consumed >= published else 0.0
    executemany = await _executemany(conn, events)
    await conn.close()
    bench.results["catch_up"] = {
        "events": events,
        "messages": published,
        "consumed": done,
        "seconds": round(seconds, 2),
        "events_per_s": round(rate),
        "executemany_rows_per_s": round(executemany),
        "ratio_to_executemany": round(rate / executemany, 3) if executemany else None,
    }


async def bare_catch_up(bench: Bench) -> None:
    """The floor: the intake topic's messages, all of them, read by the bare consumer in
    the client's process, into customs' database. Customs' rate in messages per second
    (every message on the topic, acted on or passed over) is set beside it."""
    say("bare consumer: the same intake messages, aiokafka -> asyncpg, nothing between")
    c = bench.results["catch_up"]
    conn = await bench.database("customs")
    async with bench.cpu_during("bare consumer, same messages"):
        bare = await drain(conn, bench.kafka.bootstrap_servers, INTAKE_TOPIC, c["messages"])
    await conn.close()
    customs = c["messages"] / c["seconds"] if c["events_per_s"] and c["seconds"] else 0.0
    c["messages_per_s"] = round(customs)
    c["bare_consumer"] = bare
    c["ratio_to_bare_consumer"] = (
        round(customs / bare["messages_per_s"], 3) if bare["messages_per_s"] else None
    )


async def _executemany(conn: asyncpg.Connection, rows: int) -> float:
    """The reference: asyncpg executemany of as many rows, one transaction."""
    await conn.execute("CREATE TABLE bench_rows (id uuid PRIMARY KEY, body jsonb NOT NULL)")
    body = orjson.dumps(consignment(0)).decode()
    args = [(uuid.uuid4(), body) for _ in range(rows)]
    started = time.perf_counter()
    async with conn.transaction():
        await conn.executemany("INSERT INTO bench_rows (id, body) VALUES ($1, $2::jsonb)", args)
    return rows / (time.perf_counter() - started)


async def rebuild(bench: Bench) -> None:
    """The first rebuild is the figure (an operator runs one, after a load); it is run
    twice more, for the record: repeats cost PostgreSQL less (30,000 intake events: 1.0-1.6
    CPU-s the first time, 0.6-1.1 after, the difference mostly kernel time in the backends).
    Then customs' once: its cases are folded in Python, where intake's tables are filled
    in SQL."""
    say("rebuild of intake's projections through POST /admin/projections/rebuild")
    async with bench.cpu_during("rebuild"):
        first = await _rebuild_once(bench, "intake")
    repeats = [
        (await _rebuild_once(bench, "intake"))["events_per_s"] for _ in range(REBUILD_REPEATS)
    ]
    bench.results["rebuild"] = first | {"repeats_events_per_s": repeats}
    say("rebuild of customs' projection through POST /admin/projections/rebuild")
    bench.results["rebuild_customs"] = await _rebuild_once(bench, "customs")


async def _rebuild_once(bench: Bench, service: str) -> dict[str, Any]:
    token = await bench.token("admin", service)
    connection = Connection(bench.ports[service])
    started = time.perf_counter()
    status, body = await connection.json("POST", "/admin/projections/rebuild", None, token)
    seconds = time.perf_counter() - started
    connection.close()
    replayed = body.get("events_replayed", 0) if status == 200 and body else 0
    return {
        "status": status,
        "events": replayed,
        "seconds": round(seconds, 3),
        "events_per_s": round(replayed / seconds) if seconds else 0,
    }


async def fast_track(bench: Bench, shipment_ids: list[str], bare_insert: Job) -> None:
    customs_token = await bench.token("customs.han", "customs")
    reserved = sum(n for _, n in LATENCY_RATES)
    for_latency, candidates = shipment_ids[:reserved], shipment_ids[reserved:]

    async def clear(connection: Connection, shipment_id: str) -> bool:
        status, _ = await connection.json(
            "POST",
            f"/api/v1/clearances/{shipment_id}/fast-track",
            {"declaration_number": f"D{shipment_id[:8]}", "lane": "green", "examination": "none"},
            customs_token,
        )
        return status == 200

    async def next_candidate(connection: Connection, index: int) -> bool:
        return await clear(connection, candidates[index])

    say("bare INSERT endpoint again, 32 clients")
    async with bench.cpu_during(BARE_PHASES["fast-track"]):
        baseline_2 = await closed_loop(bench.ports["baseline"], bare_insert, CLIENTS, PHASE_SECONDS)
    say("fast-track, 32 clients")
    limit = len(candidates) * 2 // 3
    async with bench.cpu_during("fast-track, 32 clients"):
        tracked = await closed_loop(
            bench.ports["customs"], next_candidate, CLIENTS, PHASE_SECONDS, limit
        )
    candidates = candidates[len(tracked.latencies) + tracked.failures :]
    rate = tracked.rate / 2
    count = min(len(candidates), int(rate * HALF_RATE_SECONDS))
    # The closed loop clears faster than allocation drafts (34 notices each): its backlog
    # is worked off first, so that the half-rate run measures the command, not a catch-up.
    say("waiting for allocation to work off the closed loop's releases")
    drained = await _allocation_idle(bench) + await bench.settle()
    bench.results["settled_before_half_rate_s"] = round(drained, 1)
    say(f"fast-track at half that rate ({rate:.0f}/s, {count} consignments), open loop")
    with bench.disk_during("fast-track at half rate"):
        half = await open_loop(bench.ports["customs"], next_candidate, rate, count)
    bench.results["fast_track"] = _command(tracked, baseline_2, half)

    say("waiting for allocation to catch up before the latency runs")
    waited = await _allocation_idle(bench)
    bench.results["allocation_backlog_drained_s"] = round(waited, 1)
    # Its relay may still be publishing that backlog's notices (35 events a round).
    bench.results["settled_before_latency_s"] = await bench.settle()
    latencies = {}
    for rate_per_s, count in LATENCY_RATES:
        ids, for_latency = for_latency[:count], for_latency[count:]
        say(f"fast-track -> 34th notice, {count} consignments at {rate_per_s}/s, open loop")
        phase = f"fast-track -> 34 notices at {rate_per_s}/s"
        async with bench.cpu_during(phase):
            with bench.disk_during(phase):
                latencies[f"{rate_per_s}_per_s"] = await _to_last_notice(
                    bench, clear, ids, rate_per_s
                )
    bench.results["fast_track_to_34_notices"] = latencies


async def _allocation_idle(bench: Bench) -> float:
    """Seconds until allocation holds a round for every cleared case (at most 3 minutes)."""
    customs, allocation = await bench.database("customs"), await bench.database("allocation")
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < 180:
            # cleared_at, not status = 'cleared': a fast-tracked one-shot arrival is closed
            cleared = await customs.fetchval(
                "SELECT count(*) FROM clearance_cases WHERE cleared_at IS NOT NULL"
            )
            if await allocation.fetchval("SELECT count(*) FROM allocation_rounds") >= cleared:
                break
            await asyncio.sleep(0.2)
    finally:
        await customs.close()
        await allocation.close()
    return time.perf_counter() - started


Clear = Callable[[Connection, str], Awaitable[bool]]


async def _to_last_notice(
    bench: Bench, clear: Clear, ids: list[str], rate: float
) -> dict[str, Any]:
    """Each consignment fast-tracked at its scheduled time; its latency ends when its 34th
    notice is in allocation's inbox table (polled every 5 ms)."""
    sent: dict[str, float] = {}
    done: dict[str, float] = {}

    async def job(connection: Connection, index: int) -> bool:
        sent[ids[index]] = time.perf_counter()
        return await clear(connection, ids[index])

    conn = await bench.database("allocation")
    posting = asyncio.create_task(open_loop(bench.ports["customs"], job, rate, len(ids)))
    deadline = time.perf_counter() + len(ids) / rate + 60
    while len(done) < len(ids) and time.perf_counter() < deadline:
        waiting = [i for i in sent if i not in done]
        if waiting:
            rows = await conn.fetch(
                "SELECT shipment_id::text AS id FROM notices WHERE shipment_id = ANY($1::uuid[])"
                " GROUP BY shipment_id HAVING count(*) >= $2",
                waiting,
                PROVINCES,
            )
            now = time.perf_counter()
            done.update((row["id"], now - sent[row["id"]]) for row in rows)
        await asyncio.sleep(0.005)
    posted = await posting
    await conn.close()
    run = Run(latencies=list(done.values()), elapsed=posted.elapsed)
    summary = {k: v for k, v in run.summary().items() if k.endswith("_ms")}
    return summary | {
        "consignments": len(ids),
        "complete": len(done),
        "post_failures": posted.failures,
    }


def _cpu(process: psutil.Process, with_children: bool = True) -> float:
    """Its CPU seconds, and those of its children that ended (e.g. PostgreSQL's backends)."""
    times = process.cpu_times()
    ended = times.children_user + times.children_system if with_children else 0.0
    return float(times.user + times.system + ended)


def cpu_table(results: dict[str, Any]) -> str:
    """Where the time went: CPU seconds of each process during the phases measured."""
    lines = []
    for phase, used in results.get("cpu_seconds", {}).items():
        shares = ", ".join(f"{name} {seconds}" for name, seconds in used["by_process"].items())
        lines.append(f"{phase} ({used['wall']} s): {shares}")
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    """The report as a text table, each figure beside its target."""
    a, f = results["announce"], results["fast_track"]
    c, r, lat = results["catch_up"], results["rebuild"], results["fast_track_to_34_notices"]
    rc = results["rebuild_customs"]
    rss = results["rss_peak_mb"]
    ceiling = results["client_ceiling"]
    rows = [
        ("client ceiling (GET /ping, no db)", f"{ceiling['per_second']:,.0f} req/s",
         f"client {ceiling['client_cpu_cores']} cores", ""),
    ]  # fmt: skip
    for name, m in (("announce", a), ("fast-track", f)):
        closed, base, half = m["closed_loop_32"], m["baseline_32"], m["half_rate_open_loop"]
        rows += [
            (f"{name}, 32 clients", f"{closed['per_second']:,.0f} req/s",
             f"p50 {closed['p50_ms']} ms, p99 {closed['p99_ms']} ms", ""),
            ("  bare INSERT endpoint, same client", f"{base['per_second']:,.0f} req/s",
             f"p50 {base['p50_ms']} ms, p99 {base['p99_ms']} ms, "
             f"client {base['client_cpu_cores']} cores", ""),
            ("  ratio to bare", f"{m['ratio_to_baseline']}", "", TARGETS["commands_vs_baseline"]),
            *_cpu_rows(results, name, m),
            (f"  at half rate ({half['per_second']:,.0f}/s)", f"p99 {half['p99_ms']} ms",
             f"p50 {half['p50_ms']} ms", TARGETS["commands_p99_at_half_rate_ms"] + " ms"),
            *_disk_row(results, f"{name} at half rate"),
        ]  # fmt: skip
    rows += [
        (f"catch-up ({c['events']} intake events -> customs)", f"{c['events_per_s']:,} ev/s",
         f"executemany {c['executemany_rows_per_s']:,} rows/s", TARGETS["catch_up_events_per_s"]),
        ("  ratio to executemany", f"{c['ratio_to_executemany']}", "",
         TARGETS["catch_up_vs_executemany"]),
        *_bare_consumer_rows(c),
        (f"rebuild (intake, {r['events']} events)", f"{r['events_per_s']:,} ev/s",
         f"{r['seconds']} s, after {results.get('settled_before_rebuild_s')} s settling",
         TARGETS["rebuild_events_per_s"]),
        ("  run again", " and ".join(f"{x:,}" for x in r.get("repeats_events_per_s", [])) + " ev/s",
         "not the figure: the first run is", ""),
        (f"rebuild (customs, {rc['events']} events)", f"{rc['events_per_s']:,} ev/s",
         f"{rc['seconds']} s, cases folded in Python", TARGETS["rebuild_events_per_s"]),
    ]  # fmt: skip
    settled = results.get("settled_before_latency_s")
    rows.append(("  (the services settled first)", f"{settled} s", "", ""))
    for key, m in lat.items():
        rows.append(
            (f"fast-track -> 34 notices at {key.split('_')[0]}/s", f"p99 {m['p99_ms']} ms",
             f"p50 {m['p50_ms']}, p95 {m['p95_ms']} ({m['complete']}/{m['consignments']})",
             TARGETS["fast_track_to_34_notices_p99_ms_at_50"] + " ms" if key == "50_per_s" else "")
        )  # fmt: skip
        rows += _disk_row(results, f"fast-track -> 34 notices at {key.split('_')[0]}/s")
    for name, mb in rss.items():
        target = TARGETS["service_rss_mb"] + " MB" if name in SERVICES else ""
        rows.append((f"peak RSS {name}", f"{mb} MB", "", target))
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    header = ("measure", "figure", "detail", "target")
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def cpu_per_request(results: dict[str, Any], phase: str, requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request, by process, during ``phase``."""
    used = results.get("cpu_seconds", {}).get(phase, {}).get("by_process", {})
    return {k: round(v * 1000 / requests, 2) for k, v in used.items()} if requests else {}


def _cpu_rows(
    results: dict[str, Any], name: str, m: dict[str, Any]
) -> list[tuple[str, str, str, str]]:
    """What a request costs in CPU, across every process, beside the bare endpoint's, and
    what it may cost at the target ratio when the machine's CPUs are all there is."""
    closed, base = m["closed_loop_32"], m["baseline_32"]
    command = cpu_per_request(results, f"{name}, 32 clients", closed["requests"])
    bare = cpu_per_request(results, BARE_PHASES[name], base["requests"])
    if not command or not bare:
        return []
    ratio = float(TARGETS["commands_vs_baseline"].split()[-1])
    budget = (os.cpu_count() or 1) * 1000 / (ratio * base["per_second"])
    beside = sum(command.get(k, 0.0) for k in BUSY)

    def parts(used: dict[str, float]) -> str:
        return ", ".join(f"{k} {v}" for k, v in used.items() if v >= 0.01)

    return [
        ("  CPU per request", f"{sum(command.values()):.2f} ms", parts(command), ""),
        ("  CPU per bare request", f"{sum(bare.values()):.2f} ms", parts(bare), ""),
        (f"  CPU a request may use at {ratio}", f"{budget:.2f} ms",
         f"{os.cpu_count()} CPUs / ({ratio} x bare rate); {', '.join(BUSY)} "
         f"alone use {beside:.2f}", ""),
    ]  # fmt: skip


def _bare_consumer_rows(c: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    bare = c.get("bare_consumer")
    if not bare:
        return []
    return [
        (f"  bare consumer ({bare['messages']} messages)", f"{bare['messages_per_s']:,} msg/s",
         f"customs {c['messages_per_s']:,} msg/s (all {c['messages']} on the topic)", ""),
        ("  ratio to bare consumer", f"{c['ratio_to_bare_consumer']}", "", ""),
    ]  # fmt: skip


def _disk_row(results: dict[str, Any], phase: str) -> list[tuple[str, str, str, str]]:
    """The disk's flushes during ``phase``: a stall there is in every commit's latency."""
    d = results.get("disk_flush", {}).get(phase, {})
    if not d.get("flushes"):
        return []
    stalls = f"{d['stalls_over_100_ms']} of {d['flushes']} over 100 ms"
    return [
        ("    disk flush meanwhile", f"max {d['max_ms']} ms", f"p99 {d['p99_ms']} ms, {stalls}", "")
    ]


@contextlib.contextmanager
def infrastructure(folder: Path) -> Iterator[tuple[EmbeddedPostgres, KafkaBroker]]:
    postgres = EmbeddedPostgres(folder / "pg")
    postgres.start()
    try:
        broker = KafkaBroker(folder / "kafka", free_port(), free_port(), ensure_kafka_jars(ROOT))
        broker.start()
        try:
            asyncio.run(create_topics(broker.bootstrap_servers, all_topics("bench")))
            yield postgres, broker
        finally:
            broker.stop()
    finally:
        postgres.stop()


def main() -> None:
    started, load_before, speed_before = time.perf_counter(), os.getloadavg(), _python_speed()
    with tempfile.TemporaryDirectory(prefix="aidport-bench-") as tmp:
        say("starting PostgreSQL and Kafka")
        with infrastructure(Path(tmp)) as (postgres, kafka):
            logs = Path(tmp) / "logs"
            logs.mkdir()
            probe = FsyncProbe(Path(tmp))
            probe.start()
            bench = Bench(postgres, kafka, logs, probe)
            try:
                _run_loop(measure(bench))
            finally:
                bench.stop_all()
                probe.stop()
    results = bench.results | {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # Other work on the machine skews every figure: the 1-minute load before and after.
            "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            # A shared host's CPU varies from hour to hour: a fixed loop, before and after.
            "python_loop_s": [speed_before, _python_speed()],
        },
        "targets": TARGETS,
        "total_seconds": round(time.perf_counter() - started, 1),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))
    print("\nCPU seconds by process (2 CPUs give at most 2 per second of wall time):")
    print(cpu_table(results))
    load = results["machine"]["load_average_1m"]
    speed = results["machine"]["python_loop_s"]
    print(
        f"\nload average (1 min) before and after: {load[0]} / {load[1]} on {os.cpu_count()} CPUs;"
        f" {LOOP:,} Python additions took {speed[0]} s / {speed[1]} s"
    )
    print(f"{RESULTS.relative_to(ROOT)} written; {results['total_seconds']:.0f} s in all")


LOOP = 10_000_000


def _python_speed() -> float:
    """Seconds a fixed pure-Python loop takes: the machine's speed at the time, since the
    figures without a ratio (events/s, milliseconds) move with it."""
    started, total = time.perf_counter(), 0
    for i in range(LOOP):
        total += i
    return round(time.perf_counter() - started, 2)


def _run_loop(work: Any) -> None:
    """uvloop for the client too, as for the servers, when installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(work)
    else:
        uvloop.run(work)


if __name__ == "__main__":
    main()
