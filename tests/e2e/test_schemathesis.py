"""schemathesis against the four running services, positive and negative: no server error,
every response as documented (status, content type, schema).

A seeded, bounded run of the ``st`` command per service (``MAX_EXAMPLES`` per operation,
one worker, a fixed seed, no example database), so that CI is reproducible and a few
minutes at most; two services are checked at once. A consignment is seeded first, and its
ids are offered to the generator half of the time, so that the operations on one shipment,
round or notice reach their data instead of answering 404 only; so are dates near now and
a known airport, so that some generated commands pass the domain's rules. The SSE streams
(endless by design) and the projection rebuild (an operator's heavy job) are left out, and
so are logout and disabling a user, which would revoke the run's own token.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.devstack import SERVICES
from tests.e2e.flows import allocation_round, announce_and_arrive, fast_track
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 100
PARALLEL = 2  # st runs at once (it keeps a core busy; one after another took 6 min on 2 cores)
SEED = 20260
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# Logout and disabling a user would revoke the run's own token (both have their own tests).
EXCLUDED = r"/stream$|/admin/projections/rebuild$|/auth/logout$|/admin/users/"
ST = Path(sys.executable).with_name("st")
ROOT = Path(__file__).resolve().parents[2]
HOOKS = "tests.e2e.schemathesis_hooks"  # half the announcements made plausible


async def seed(stack: Stack, client: httpx.AsyncClient) -> dict[str, list[str]]:
    """One consignment allocated to every province, one arrived and waiting for customs."""
    allocated = await announce_and_arrive(stack, client, "738-20000001")
    response = await fast_track(stack, client, allocated["shipment_id"])
    assert response.status_code == 200, response.text
    decided = await until(lambda: allocation_round(stack, client, allocated["shipment_id"]))
    waiting = await announce_and_arrive(stack, client, "738-20000002")
    round_id = decided["round_id"]
    now = datetime.now(UTC)
    return {
        "shipments": [allocated["shipment_id"], waiting["shipment_id"]],
        "provinces": ["01", "79"],
        "notices": [f"{round_id}-01-1", f"{round_id}-79-1"],
        # Values within rules that a schema cannot state (a date near now, a known airport),
        # so that some generated commands are accepted, not only refused.
        "moments": [(now + timedelta(minutes=m)).isoformat() for m in (-30, 90)],
        "airports": ["HAN"],
        "expiries": [(now.date() + timedelta(days=200)).isoformat()],
    }


BINDINGS = {
    "path.shipment_id": "shipments",
    "path.code": "provinces",
    "path.number": "notices",
    "body.expected_arrival": "moments",
    "body.arrived_at": "moments",
    "body.airport": "airports",
    "body.lines[*].lots[*].expiry_date": "expiries",
}


def config(known: dict[str, list[str]]) -> str:
    lines = []
    for name, values in known.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for parameter, name in BINDINGS.items():
        lines.append(f'"{parameter}" = {{ dictionary = "{name}", probability = 0.5 }}')
    return "\n".join(lines) + "\n"


def run_schemathesis(url: str, token: str, folder: Path) -> dict[str, Any]:
    report = folder / "report.json"
    command = [
        str(ST),
        "--config-file",
        str(folder / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--mode",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--checks",
        ",".join(CHECKS),
        "--exclude-path-regex",
        EXCLUDED,
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    env = os.environ | {"SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": str(ROOT)}
    finished = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False
    )  # in its own folder: st keeps a cache of crashes in the working directory
    (folder / "output.txt").write_text(finished.stdout + finished.stderr)
    assert report.exists(), finished.stdout[-3000:] + finished.stderr[-3000:]
    result: dict[str, Any] = json.loads(report.read_text())
    result["output"] = finished.stdout[-6000:]
    return result


async def test_no_server_error_and_no_response_schema_violation(
    stack: Stack, tmp_path: Path
) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        known = await seed(stack, client)
        tokens = {s: await stack.token(client, "admin", s) for s in SERVICES}
    running = asyncio.Semaphore(PARALLEL)

    async def run(service: str) -> dict[str, Any]:
        folder = tmp_path / service
        folder.mkdir()
        (folder / "schemathesis.toml").write_text(config(known))
        async with running:
            return await asyncio.to_thread(
                run_schemathesis, stack.url(service), tokens[service], folder
            )

    results = await asyncio.gather(*(run(service) for service in SERVICES))
    totals = {"operations": 0, "test cases": 0}
    for service, result in zip(SERVICES, results, strict=True):
        failures = result["test_cases"]["with_failures"]
        print(
            f"\n{service}: {result['operations']['tested']} operations, "
            f"{result['test_cases']['generated']} test cases, {failures} with failures, "
            f"{len(result['errors'])} errors, {result['running_time']:.0f} s"
        )
        assert result["complete"] and result["operations"]["errored"] == 0, result["output"]
        assert failures == 0 and not result["failures"], result["output"]
        assert not result["errors"], result["output"]
        totals["operations"] += result["operations"]["tested"]
        totals["test cases"] += result["test_cases"]["generated"]
    print(f"schemathesis totals: {totals}")
    assert totals["operations"] >= 25
