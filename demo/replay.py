"""The replay: every consignment through its steps, a few at a time, with a progress bar."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from demo.calendar import Shift, shift_for
from demo.client import Api
from demo.consignments import Consignment, Mapping
from demo.steps import allocation, customs, delivery, intake
from demo.steps.base import Context, Item, known_shipments

Step = Callable[[Context, Item], Awaitable[bool]]
NoticeStep = Callable[[Context, dict[str, Any]], Awaitable[bool]]

# The consignment's way, in order, up to its allocation round.
CONSIGNMENT_STEPS: tuple[tuple[str, Step], ...] = (
    ("announce", intake.announce),
    ("inspection", intake.inspect),
    ("VAR", intake.file_reports),
    ("close", intake.close),
    ("clearance", customs.clear),
    ("allocation", allocation.allocation_round),
    ("approval", allocation.approve),
)
# Then each notice of the round, in order.
NOTICE_STEPS: tuple[tuple[str, NoticeStep], ...] = (
    ("acknowledge", allocation.acknowledge),
    ("dispatch", delivery.dispatch),
    ("receipt", delivery.confirm_receipt),
)
NOTICES = "notices"  # the progress bar of the notices' steps


@dataclass
class Outcome:
    shift: Shift
    items: list[Item]
    acted: Counter[str] = field(default_factory=Counter)  # changes made, per step
    found_done: Counter[str] = field(default_factory=Counter)  # steps found done already
    errors: list[str] = field(default_factory=list)
    received_doses: Counter[str] = field(default_factory=Counter)  # per donor, notices received
    seconds: float = 0.0
    requests: int = 0


def select(mapping: Mapping, limit: int | None) -> tuple[Consignment, ...]:
    return mapping.consignments[:limit] if limit else mapping.consignments


async def replay(
    api: Api,
    mapping: Mapping,
    *,
    limit: int | None = None,
    scale: int = 1,
    today: date | None = None,
    wait_timeout: float = 120.0,
    fast_track_all: bool = False,
    console: Console | None = None,
) -> Outcome:
    started = time.monotonic()
    today = today or date.today()
    # The shift is chosen for all of 2021, so that --limit does not move the dates.
    shift = shift_for((c.day for c in mapping.consignments), today)
    chosen = select(mapping, limit)
    items = [Item(c, copy) for copy in range(1, scale + 1) for c in chosen]
    outcome = Outcome(shift, items)
    ctx = Context(api, shift, today, wait_timeout, fast_track_all)
    known = await known_shipments(api, {c.airport for c in chosen})
    for item in items:
        item.shipment = known.get((item.consignment.airport, item.airway_bill))
    with _progress(console) as progress:
        await _consignments(ctx, items, outcome, progress)
        await _notices(ctx, items, outcome, progress)
    outcome.seconds = time.monotonic() - started
    outcome.requests = api.requests
    return outcome


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def _consignments(
    ctx: Context, items: Sequence[Item], outcome: Outcome, progress: Progress
) -> None:
    tasks = {name: progress.add_task(name, total=len(items)) for name, _ in CONSIGNMENT_STEPS}
    # More consignments than request slots, so that waiting for Kafka does not idle the API.
    workers = asyncio.Semaphore(ctx.api.concurrency * 4)

    async def one(item: Item) -> None:
        async with workers:
            for name, step in CONSIGNMENT_STEPS:
                try:
                    acted = await step(ctx, item)
                except Exception as error:  # reported at the end; the others go on
                    outcome.errors.append(f"{item.airway_bill} {name}: {error}")
                    return
                (outcome.acted if acted else outcome.found_done)[name] += 1
                progress.advance(tasks[name])

    await asyncio.gather(*(one(item) for item in items))


async def _notices(
    ctx: Context, items: Sequence[Item], outcome: Outcome, progress: Progress
) -> None:
    """Each recipient reads its inbox; then each round's notices go through their steps one
    after the other (a round is one stream: parallel writes to it would only clash)."""
    expected = allocation.expected_notices([item.round for item in items if item.round])
    codes = [code for code in await allocation.recipient_codes(ctx.api) if code in expected]
    task = progress.add_task(NOTICES, total=len(codes) + len(items))
    by_round: dict[str, list[dict[str, Any]]] = defaultdict(list)
    donors = {item.round["round_id"]: item.consignment.donor for item in items if item.round}

    async def read(code: str) -> None:
        try:
            for notice in await allocation.inbox_notices(ctx, code, expected[code]):
                by_round[notice["round_id"]].append(notice)
        except Exception as error:
            outcome.errors.append(f"recipient {code} inbox: {error}")
        progress.advance(task)

    async def deliver(notices: list[dict[str, Any]]) -> None:
        for notice in sorted(notices, key=lambda n: str(n["notice_number"])):
            for name, step in NOTICE_STEPS:
                try:
                    acted = await step(ctx, notice)
                except Exception as error:
                    outcome.errors.append(f"{notice['notice_number']} {name}: {error}")
                    break
                (outcome.acted if acted else outcome.found_done)[name] += 1
            else:
                if notice["unit"] == "doses":
                    outcome.received_doses[donors[notice["round_id"]]] += notice["quantity"]
        progress.advance(task)

    await asyncio.gather(*(read(code) for code in codes))
    await asyncio.gather(*(deliver(notices) for notices in by_round.values()))
    progress.advance(task, len(items) - len(by_round))
