"""``python -m bench.commands``: the two commands against the bare endpoint, and nothing else.

A quicker loop than ``make bench`` while working on the command path: the same
infrastructure, client, bodies and bare endpoint, interleaved (bare, announce, bare,
fast-track) for ``BENCH_ROUNDS`` rounds (2), each ``BENCH_PHASE_SECONDS`` long (10).
It writes nothing to ``bench/results``.

``BENCH_PROFILE=<folder>`` also samples intake during announce and customs during
fast-track with py-spy (``pip install py-spy``, not a project dependency) and leaves
there one collapsed-stack profile each (py-spy's raw format). The CPU time of the service
and of PostgreSQL per request is printed either way.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
import psutil  # type: ignore[import-untyped]

from bench.client import Connection, Run, closed_loop
from bench.run import (
    CLIENTS,
    PHASE_SECONDS,
    Bench,
    _run_loop,
    arrival,
    consignment,
    infrastructure,
    say,
)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 2))
PROFILE = Path(os.environ["BENCH_PROFILE"]) if os.environ.get("BENCH_PROFILE") else None
FAST_TRACK_CASES = 3000 * ROUNDS  # a phase that clears the last of them ends early


class Profiled:
    """py-spy sampling one service while a phase runs, and its CPU seconds per request."""

    def __init__(self, bench: Bench, service: str, label: str, sample: bool = True) -> None:
        self.process = psutil.Process(bench.processes[service].pid)
        self.postgres = psutil.Process(bench.postgres.pid())
        self.label, self.sample = label, sample
        self.sampler: subprocess.Popen[bytes] | None = None

    def _postgres_cpu(self) -> float:
        processes = [self.postgres, *self.postgres.children(recursive=True)]
        return sum(sum(p.cpu_times()[:2]) for p in processes if p.is_running())

    def __enter__(self) -> Profiled:
        self.cpu, self.pg_cpu = sum(self.process.cpu_times()[:2]), self._postgres_cpu()
        if PROFILE is not None and self.sample:
            PROFILE.mkdir(parents=True, exist_ok=True)
            spy = Path(sys.executable).parent / "py-spy"
            self.sampler = subprocess.Popen(
                [str(spy), "record", "--pid", str(self.process.pid), "--rate", "200",
                 "--format", "raw", "--output", str(PROFILE / f"{self.label}.txt"),
                 "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu = sum(self.process.cpu_times()[:2]) - self.cpu
        self.pg_cpu = self._postgres_cpu() - self.pg_cpu
        if self.sampler is not None:
            self.sampler.send_signal(2)  # SIGINT: py-spy writes its flame graph
            self.sampler.wait(30)


async def measure(bench: Bench) -> list[dict[str, Any]]:
    bench.start("baseline", "intake", "customs")
    intake_token = await bench.token("intake.han", "intake")
    customs_token = await bench.token("customs.han", "customs")
    bills = iter(range(100_000, 10**9))
    shipments: list[dict[str, Any]] = []

    async def bare_insert(connection: Connection, index: int) -> bool:
        status, _ = await connection.request("POST", "/rows", orjson.dumps(consignment(index)))
        return status == 201

    async def announce(connection: Connection, index: int) -> bool:
        status, body = await connection.json(
            "POST", "/api/v1/shipments", consignment(next(bills)), intake_token
        )
        if status == 201:
            shipments.append(body)
        return status == 201

    async def arrive(connection: Connection, index: int) -> bool:
        shipment = shipments[index]
        path = f"/api/v1/shipments/{shipment['shipment_id']}/arrival"
        return (await connection.json("POST", path, arrival(shipment), intake_token))[0] == 200

    say(f"{FAST_TRACK_CASES} consignments announced and arrived, for customs")
    await closed_loop(bench.ports["baseline"], bare_insert, CLIENTS, 1.0)  # warm-up
    await closed_loop(bench.ports["intake"], announce, CLIENTS, 300, FAST_TRACK_CASES)
    cases = [s["shipment_id"] for s in shipments]
    await closed_loop(bench.ports["intake"], arrive, CLIENTS, 300, len(cases))
    await _until_arrived(bench, len(cases))

    async def fast_track(connection: Connection, index: int) -> bool:
        status, _ = await connection.json(
            "POST",
            f"/api/v1/clearances/{cases.pop()}/fast-track",
            {"declaration_number": "D0001", "lane": "green", "examination": "none"},
            customs_token,
        )
        return status == 200

    rounds = []
    for number in range(1, ROUNDS + 1):
        figures: dict[str, Any] = {}
        # fast-track ends early when the cases run out (a job answering at once would
        # spin the client's loop, counting millions of failures)
        for name, service, job, limit in (
            ("announce", "intake", announce, None),
            ("fast_track", "customs", fast_track, len(cases)),
        ):
            say(f"round {number}: bare INSERT, then {name}")
            with Profiled(bench, "baseline", "bare", sample=False) as bare_cpu:
                bare = await closed_loop(
                    bench.ports["baseline"], bare_insert, CLIENTS, PHASE_SECONDS
                )
            with Profiled(bench, service, f"{name}-{number}") as profiled:
                run = await closed_loop(bench.ports[service], job, CLIENTS, PHASE_SECONDS, limit)
            figures[name] = _figures(run, profiled) | {
                "bare": _figures(bare, bare_cpu),
                "ratio": round(run.rate / bare.rate, 3) if bare.rate else None,
            }
        say(f"round {number}: {figures}")
        rounds.append(figures)
    return rounds


def _figures(run: Run, cpu: Profiled) -> dict[str, Any]:
    done = len(run.latencies)
    summary = run.summary()
    return {
        "per_second": round(run.rate),
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "failures": run.failures,
        "service_cpu_ms_per_request": round(cpu.cpu / done * 1000, 2) if done else None,
        "postgres_cpu_ms_per_request": round(cpu.pg_cpu / done * 1000, 2) if done else None,
    }


async def _until_arrived(bench: Bench, count: int) -> None:
    conn = await bench.database("customs")
    try:
        for _ in range(1200):
            arrived = await conn.fetchval(
                "SELECT count(*) FROM clearance_cases WHERE status = 'arrived'"
            )
            if arrived >= count:
                return
            await asyncio.sleep(0.25)
        raise TimeoutError(f"customs saw {arrived} of {count} arrivals")
    finally:
        await conn.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="aidport-bench-") as tmp:
        say("starting PostgreSQL and Kafka")
        with infrastructure(Path(tmp)) as (postgres, kafka):
            logs = Path(tmp) / "logs"
            logs.mkdir()
            bench = Bench(postgres, kafka, logs)
            result: list[list[dict[str, Any]]] = []

            async def work() -> None:
                result.append(await measure(bench))

            try:
                _run_loop(work())
            finally:
                bench.stop_all()
    print(orjson.dumps(result[0], option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
