"""The summary at the end: what was loaded, by donor, against the CSV sums; the dashboard."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from demo.consignments import Consignment, Row, Unmapped, loaded_totals, totals
from demo.replay import CONSIGNMENT_STEPS, NOTICE_STEPS, Outcome
from demo.steps.base import Item

UNITS = ("doses", "kits", "pieces", "tonnes")


@dataclass(frozen=True)
class Totals:
    """Per (donor, unit): the CSV sums, what the replay loaded (one copy), what it could not."""

    csv: dict[tuple[str, str], int]
    loaded: dict[tuple[str, str], int]
    not_loaded: dict[tuple[str, str], int]

    @property
    def balanced(self) -> bool:
        keys = set(self.csv) | set(self.loaded) | set(self.not_loaded)
        return all(
            self.csv.get(k, 0) == self.loaded.get(k, 0) + self.not_loaded.get(k, 0) for k in keys
        )

    def donors(self) -> list[str]:
        return sorted({donor for donor, _ in self.csv})


def totals_of(
    rows: Iterable[Row],
    consignments: Iterable[Consignment],
    unmapped: Iterable[Unmapped],
    left_out: Iterable[Consignment] = (),
) -> Totals:
    """``left_out``: consignments that ``--limit`` did not replay."""
    not_loaded = Counter(totals(u.row for u in unmapped))
    not_loaded.update(loaded_totals(left_out))
    return Totals(totals(rows), loaded_totals(consignments), dict(not_loaded))


def allocated_doses(items: Iterable[Item]) -> dict[str, int]:
    """Doses per donor that the rounds give to recipients (national ones included)."""
    doses: dict[str, int] = defaultdict(int)
    for item in items:
        for line in item.round["lines"] if item.round else ():
            if line["unit"] == "doses":
                doses[item.consignment.donor] += sum(s["quantity"] for s in line["shares"])
    return dict(doses)


def expected_dashboard(announced: Mapping[str, int], outcome: Outcome) -> dict[str, DonorRow]:
    """What the dashboard should show per donor after the replay: announced and released
    the CSV's doses, allocated what the rounds give, received what the recipients confirmed
    (the provinces and the national recipients)."""
    allocated = allocated_doses(outcome.items)
    return {
        donor: {
            "announced": doses,
            "released": doses,
            "allocated": allocated.get(donor, 0),
            "received": outcome.received_doses.get(donor, 0),
        }
        for donor, doses in announced.items()
    }


def doses_by_donor(consignments: Iterable[Consignment], scale: int) -> dict[str, int]:
    doses: dict[str, int] = defaultdict(int)
    for consignment in consignments:
        doses[consignment.donor] += consignment.quantity("doses") * scale
    return {donor: n for donor, n in doses.items() if n}


def print_summary(
    console: Console,
    outcome: Outcome,
    sums: Totals,
    unmapped: Iterable[Unmapped],
    scale: int,
) -> None:
    console.print(f"\n[bold]2021 replayed[/bold]: dates shifted {outcome.shift.describe()}")
    console.print(_steps_table(outcome))
    console.print(_donor_table(sums, scale))
    if unmapped_rows := list(unmapped):
        console.print(_unmapped_table(unmapped_rows))
    consignments = len(outcome.items)
    doses = sum(i.consignment.quantity("doses") for i in outcome.items)
    console.print(
        f"{consignments} consignments ({consignments // scale} of 2021 x {scale}), "
        f"{doses:,} doses; {outcome.requests} requests in {outcome.seconds:.1f} s"
    )
    verdict = "equal" if sums.balanced else "[red]NOT equal[/red]"
    console.print(f"Loaded + not loaded {verdict} to the CSV sums, per donor and unit.")


def _steps_table(outcome: Outcome) -> Table:
    table = Table(title="Steps")
    table.add_column("step")
    table.add_column("done now", justify="right")
    table.add_column("found done", justify="right")
    for name in [n for n, _ in (*CONSIGNMENT_STEPS, *NOTICE_STEPS)]:
        table.add_row(name, str(outcome.acted[name]), str(outcome.found_done[name]))
    return table


def _donor_table(sums: Totals, scale: int) -> Table:
    table = Table(title="By donor (CSV = loaded + not loaded; loaded is per copy)")
    table.add_column("donor")
    for unit in UNITS:
        table.add_column(f"{unit} CSV", justify="right")
        table.add_column(f"{unit} loaded x{scale}", justify="right")
    for donor in sums.donors():
        cells = []
        for unit in UNITS:
            csv, loaded = sums.csv.get((donor, unit), 0), sums.loaded.get((donor, unit), 0)
            cells += [f"{csv:,}" if csv else "", f"{loaded * scale:,}" if csv else ""]
        table.add_row(donor, *cells)
    cells = []
    for unit in UNITS:
        csv = sum(n for (_, u), n in sums.csv.items() if u == unit)
        loaded = sum(n for (_, u), n in sums.loaded.items() if u == unit)
        cells += [f"{csv:,}", f"{loaded * scale:,}"]
    table.add_row("[bold]total[/bold]", *cells)
    return table


def _unmapped_table(unmapped: list[Unmapped]) -> Table:
    table = Table(title="Rows not loaded")
    for column in ("row", "donor", "product", "quantity", "reason"):
        table.add_column(column)
    for u in unmapped:
        quantity = f"{u.row.quantity:,} {u.row.unit}"
        table.add_row(u.row.where, u.row.donor, u.row.product, quantity, u.reason)
    return table


# --- the reporting service's dashboard ------------------------------------------------------


DonorRow = dict[str, int]  # the dashboard's doses of one donor, per stage


async def check_dashboard(
    client: httpx.AsyncClient,
    url: str,
    token: str | None,
    expected: Mapping[str, DonorRow],
    patience: float = 60.0,
) -> tuple[bool | None, str]:
    """Compares the dashboard's doses per donor and stage with the replay's
    (``expected_dashboard``). Reporting learns through Kafka, so a difference is read again
    until ``patience`` runs out. None: not checked (reporting does not answer)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline, pause = time.monotonic() + patience, 0.5
    while True:
        try:
            response = await client.get(f"{url}/api/v1/dashboard", headers=headers)
        except httpx.TransportError as error:
            return None, f"skipped: the reporting service does not answer at {url} ({error!r})"
        if response.status_code != 200:
            return None, f"skipped: {url}/api/v1/dashboard answered {response.status_code}"
        wrong = differences(donor_doses(response.json()), expected)
        if not wrong:
            return True, (
                f"the dashboard's doses of {len(expected)} donors equal the replay's "
                "(announced, released, allocated, received)"
            )
        if time.monotonic() >= deadline:
            return False, "the dashboard differs: " + "; ".join(wrong)
        await asyncio.sleep(pause)
        pause = min(5.0, pause * 1.5)


def donor_doses(dashboard: Any) -> dict[str, DonorRow]:
    """The dashboard's ``donors`` table (services/reporting TotalRow) by donor."""
    return {
        str(row["key"]): {stage: int(row[f"{stage}_doses"]) for stage in STAGES}
        for row in dashboard["donors"]
    }


STAGES = ("announced", "released", "allocated", "received")


def differences(shown: Mapping[str, DonorRow], expected: Mapping[str, DonorRow]) -> list[str]:
    wrong = []
    for donor, doses in sorted(expected.items()):
        row = shown.get(donor, dict.fromkeys(STAGES, 0))
        if off := [f"{s} {row[s]:,} (replay {doses[s]:,})" for s in STAGES if row[s] != doses[s]]:
            wrong.append(f"{donor}: " + ", ".join(off))
    return wrong
