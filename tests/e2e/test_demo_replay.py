"""``make demo`` against the three service processes: a second run changes nothing."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.infra.kafka_broker import free_port
from shared.reference_data import recipient_codes
from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


async def run_demo(
    stack: Stack, report: Path, *options: str, reporting: bool = True
) -> dict[str, Any]:
    urls = [f"--{name}-url={stack.url(name)}" for name in ("intake", "customs", "allocation")]
    # Without reporting, nothing listens there: the dashboard check is skipped, and says so.
    reporting_url = stack.url("reporting") if reporting else f"http://127.0.0.1:{free_port()}"
    urls.append(f"--reporting-url={reporting_url}")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "demo",
        *urls,
        f"--report-json={report}",
        *options,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    text = output.decode()
    assert process.returncode == 0, text
    check = "Dashboard check: the dashboard's doses" if reporting else "Dashboard check: skipped"
    assert check in text, text
    assert "Loaded + not loaded equal to the CSV sums" in text, text
    return json.loads(await asyncio.to_thread(report.read_text))  # type: ignore[no-any-return]


async def state(stack: Stack, client: httpx.AsyncClient) -> dict[str, Any]:
    """What the services show: every consignment with its status, every notice in every
    recipient's inbox (provinces and national recipients) with its."""
    shipments = {}
    for airport in ("HAN", "SGN"):
        response = await stack.call(
            client,
            "viewer",
            "GET",
            "intake",
            "/api/v1/shipments",
            params={"airport": airport, "limit": 200},
        )
        assert response.status_code == 200, response.text
        shipments |= {s["airway_bill"]: s["status"] for s in response.json()["items"]}
    notices = {}
    for code in sorted(recipient_codes()):
        response = await stack.call(
            client,
            "viewer",
            "GET",
            "allocation",
            f"/api/v1/recipients/{code}/notices",
            params={"limit": 200},
        )
        assert response.status_code == 200, response.text
        notices |= {n["notice_number"]: n["status"] for n in response.json()["items"]}
    return {"shipments": shipments, "notices": notices}


async def test_the_replay_loads_2021_once_and_a_second_run_changes_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        first = await run_demo(stack, tmp_path / "first.json", "--limit=3")
        after_first = await state(stack, client)
        second = await run_demo(stack, tmp_path / "second.json", "--limit=3")
        after_second = await state(stack, client)

    bills = ["D21-0224-1", "D21-0316-1", "D21-0401-1"]
    assert first["airway_bills"] == bills and not first["errors"]
    assert first["dashboard_ok"] is True and second["dashboard_ok"] is True
    for step in ("announce", "inspection", "VAR", "close", "clearance", "approval"):
        assert first["acted"][step] == 3, step
    assert after_first["shipments"] == dict.fromkeys(bills, "arrived")  # closed, all accepted
    # Each approved round's notices, wherever they went: dispatched, then received in full.
    notices = len(after_first["notices"])
    assert notices >= 3
    assert set(after_first["notices"].values()) == {"received"}
    for step in ("acknowledge", "dispatch", "receipt"):
        assert first["acted"][step] == notices, step
    assert first["doses_by_donor"] == {
        "VNVC purchase": 117_600,
        "Russian Federation": 1_000,
        "COVAX via UNICEF": 811_200,
    }

    assert after_second == after_first
    assert second["acted"] == {} and not second["errors"]
    assert second["found_done"] == dict.fromkeys(
        ("announce", "inspection", "VAR", "close", "clearance", "allocation", "approval"), 3
    ) | dict.fromkeys(("acknowledge", "dispatch", "receipt"), notices)


async def test_scale_adds_copies_with_fresh_airway_bills(stack: Stack, tmp_path: Path) -> None:
    stack.start()
    report = await run_demo(
        stack, tmp_path / "scaled.json", "--limit=1", "--scale=2", reporting=False
    )
    assert report["airway_bills"] == ["D21-0224-1", "D21-0224-1-X2"]
    assert report["acted"]["announce"] == 2 and not report["errors"]
    assert report["doses_by_donor"] == {"VNVC purchase": 2 * 117_600}
