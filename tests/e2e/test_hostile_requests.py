"""Oversize and control-character requests against a running intake process: refused with a
problem before any work, nothing written, and the process neither grows nor stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.http.problems import PROBLEM_JSON
from tests.e2e.flows import vaccine_consignment
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e
MiB = 1024 * 1024
SHIPMENTS = "/api/v1/shipments"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError("no VmRSS")


async def chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // (64 * 1024)):
        yield b" " * (64 * 1024)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


async def test_hostile_requests_are_refused_before_any_work(stack: Stack) -> None:
    stack.start("intake")
    pid = stack.running["intake"].process.pid
    async with httpx.AsyncClient(timeout=60) as client:
        url = stack.url("intake") + SHIPMENTS
        before = rss_mib(pid)
        json_type = {"content-type": "application/json"}
        # Without a token: the size is judged before authentication.
        problem(await client.post(url, content=b" " * (50 * MiB), headers=json_type), 413)
        problem(await client.post(url, content=chunks(20 * MiB), headers=json_type), 413)
        assert rss_mib(pid) - before < 40  # the bodies were never held in memory

        body = vaccine_consignment("738-30000001")
        body["donor"] = "COVAX\u0000"
        refused = problem(
            await stack.call(client, "intake.han", "POST", "intake", SHIPMENTS, json=body), 422
        )
        assert [e["field"] for e in refused["errors"]] == ["donor"]
        query = await stack.call(
            client, "intake.han", "GET", "intake", f"{SHIPMENTS}?airport=HA%00N"
        )
        assert [e["field"] for e in problem(query, 400)["errors"]] == ["airport"]

        listed = await stack.call(client, "intake.han", "GET", "intake", SHIPMENTS)
        assert listed.status_code == 200 and listed.json()["items"] == []
        accepted = await stack.call(
            client,
            "intake.han",
            "POST",
            "intake",
            SHIPMENTS,
            json=vaccine_consignment("738-30000002"),
        )
        assert accepted.status_code == 201, accepted.text
