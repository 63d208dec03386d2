"""``make demo`` / ``python -m demo``: replays 2021 into a running ``make run``.

Through the public HTTP APIs only, as the demo logins ``make run`` prints. Each consignment
is announced, inspected lot by lot with its VARs, closed, cleared by customs (in its lane,
or on the fast track), allocated (a drafted round approved), then every notice acknowledged,
dispatched by the national store and received by its recipient. Idempotent: a second run
finds every step done and changes nothing. At the end the reporting dashboard's doses per
donor are checked against the replay's. Exit status: 0 done, 1 a step failed, 3 the
reporting dashboard disagrees with the replay's totals.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from demo.client import Api
from demo.consignments import map_rows, read_rows
from demo.replay import Outcome, replay, select
from demo.summary import (
    check_dashboard,
    doses_by_donor,
    expected_dashboard,
    print_summary,
    totals_of,
)
from shared.auth import DEMO_PASSWORD
from shared.reference_data import airports

DEFAULT_URLS = {
    "intake": "http://127.0.0.1:8001",
    "customs": "http://127.0.0.1:8002",
    "allocation": "http://127.0.0.1:8003",
    "reporting": "http://127.0.0.1:8004",
}


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    for service, url in DEFAULT_URLS.items():
        variable = f"AIDPORT_DEMO_{service.upper()}_URL"
        parser.add_argument(
            f"--{service}-url",
            default=os.environ.get(variable, url),
            help=f"base URL of {service} (${variable}, default {url})",
        )
    parser.add_argument(
        "--password", default=os.environ.get("AIDPORT_DEMO_PASSWORD", DEMO_PASSWORD)
    )
    parser.add_argument("--limit", type=_positive, help="only the first N consignments of 2021")
    parser.add_argument("--scale", type=_positive, default=1, help="N copies, fresh airway bills")
    parser.add_argument("--concurrency", type=_positive, default=4, help="requests in flight")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait per step")
    parser.add_argument(
        "--clearance",
        choices=("lane", "fast-track"),
        default="lane",
        help="clear in the customs lane (the CSV's note, else green) or all on the fast track",
    )
    parser.add_argument("--report-json", type=Path, help="also write the outcome here")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


async def main(options: argparse.Namespace) -> int:
    console = Console()
    rows = read_rows()
    mapping = map_rows(rows, airports())
    urls = {s: getattr(options, f"{s}_url").rstrip("/") for s in DEFAULT_URLS}
    async with httpx.AsyncClient(timeout=30.0) as client:
        api = Api(urls, options.password, client, options.concurrency)
        outcome = await replay(
            api,
            mapping,
            limit=options.limit,
            scale=options.scale,
            wait_timeout=options.wait,
            fast_track_all=options.clearance == "fast-track",
            console=console,
        )
        chosen = select(mapping, options.limit)
        # Totals against the whole CSV; with --limit, the rest counts as not loaded.
        sums = totals_of(rows, chosen, mapping.unmapped, mapping.consignments[len(chosen) :])
        print_summary(console, outcome, sums, mapping.unmapped, options.scale)
        expected = doses_by_donor(chosen, options.scale)
        token = await _reporting_token(client, urls["reporting"], options.password)
        dashboard_ok, message = await check_dashboard(
            client, urls["reporting"], token, expected_dashboard(expected, outcome), options.wait
        )
    console.print(f"Dashboard check: {message}")
    for error in outcome.errors:
        console.print(f"[red]failed[/red] {error}")
    if options.report_json:
        options.report_json.write_text(json.dumps(_report(outcome, expected, dashboard_ok)))
    if outcome.errors:
        return 1
    return 3 if dashboard_ok is False else 0


async def _reporting_token(client: httpx.AsyncClient, url: str, password: str) -> str | None:
    """A national viewer's token of the reporting service, if it signs in that way; one try,
    since the check is optional."""
    try:
        response = await client.post(
            f"{url}/api/v1/auth/token", data={"username": "viewer", "password": password}
        )
        return str(response.json()["access_token"]) if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def _report(outcome: Outcome, expected: dict[str, int], dashboard_ok: bool | None) -> Any:
    return {
        "shift": outcome.shift.describe(),
        "consignments": len(outcome.items),
        "airway_bills": [item.airway_bill for item in outcome.items],
        "acted": dict(outcome.acted),
        "found_done": dict(outcome.found_done),
        "errors": outcome.errors,
        "doses_by_donor": expected,
        "seconds": round(outcome.seconds, 1),
        "dashboard_ok": dashboard_ok,
    }


if __name__ == "__main__":
    sys.exit(asyncio.run(main(arguments())))
