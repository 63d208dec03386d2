"""One function per step of a consignment's way, each checking the current state (GET)
before acting, so that a second run changes nothing.

A step returns True when it changed something, False when it found the step done. The
steps that exist on main: announce, record the arrival (intake), release on the fast track
(customs), wait for the allocation round the allocation service decides on its own, and
acknowledge the provinces' notices. Inspection, normal release, approval, dispatch and
receipt are new functions here, listed in ``replay.CONSIGNMENT_STEPS``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from demo import payloads
from demo.calendar import Shift
from demo.client import Api, ApiError
from demo.consignments import Consignment

T = TypeVar("T")
DEMO_AIRPORTS = {"HAN": "han", "SGN": "sgn"}  # the airports with demo officers


@dataclass
class Item:
    """One consignment (copy) of the replay, and what the services said of it so far."""

    consignment: Consignment
    copy: int
    shipment: dict[str, Any] | None = None  # intake's view
    round: dict[str, Any] | None = None  # allocation's round

    @property
    def airway_bill(self) -> str:
        return payloads.airway_bill(self.consignment, self.copy)

    @property
    def shipment_id(self) -> str:
        assert self.shipment is not None, "announce first"
        return str(self.shipment["shipment_id"])

    def step_key(self, step: str) -> str:
        """The Idempotency-Key of a step: stable per airway bill and step."""
        return f"demo2021:{self.consignment.airport}:{self.airway_bill}:{step}"


@dataclass(frozen=True)
class Context:
    api: Api
    shift: Shift
    today: date
    wait_timeout: float = 120.0


def officer(kind: str, airport: str) -> str:
    """The demo login for an airport; airports without their own officer use ``admin``."""
    return f"{kind}.{DEMO_AIRPORTS[airport]}" if airport in DEMO_AIRPORTS else "admin"


async def known_shipments(api: Api, airports: set[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every consignment intake knows at these airports, by (airport, airway bill)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for airport in sorted(airports):
        async for shipment in pages(
            api, "intake", officer("intake", airport), "/api/v1/shipments", {"airport": airport}
        ):
            found[shipment["airport"], shipment["airway_bill"]] = shipment
    return found


async def pages(
    api: Api, service: str, user: str, path: str, params: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        query = params | {"limit": 200} | ({"cursor": cursor} if cursor else {})
        response = await api.call(service, user, "GET", path, params=query)
        if response.status_code != 200:
            raise ApiError(response, f"listing {path}")
        page = response.json()
        for item in page["items"]:
            yield item
        cursor = page.get("next_cursor")
        if not cursor:
            return


# --- intake --------------------------------------------------------------------------------


async def announce(ctx: Context, item: Item) -> bool:
    if item.shipment is not None:
        return False
    body = payloads.announcement(item.consignment, item.copy, ctx.shift, ctx.today)
    user = officer("intake", item.consignment.airport)
    response = await ctx.api.call(
        "intake", user, "POST", "/api/v1/shipments", json=body, key=item.step_key("announce")
    )
    if response.status_code != 201:
        raise ApiError(response, f"announcing {item.airway_bill}")
    item.shipment = response.json()
    return True


async def record_arrival(ctx: Context, item: Item) -> bool:
    assert item.shipment is not None
    if item.shipment["status"] != "announced":
        return False
    response = await ctx.api.call(
        "intake",
        officer("intake", item.consignment.airport),
        "POST",
        f"/api/v1/shipments/{item.shipment_id}/arrival",
        json=payloads.arrival(item.consignment, ctx.shift),
        key=item.step_key("arrival"),
    )
    if response.status_code != 200:
        raise ApiError(response, f"recording the arrival of {item.airway_bill}")
    item.shipment = response.json()
    return True


# --- customs -------------------------------------------------------------------------------


async def release(ctx: Context, item: Item) -> bool:
    """The fast-track release, once customs has learnt of the arrival (through Kafka)."""
    user = officer("customs", item.consignment.airport)
    path = f"/api/v1/clearances/{item.shipment_id}"

    async def case_status() -> str | None:
        response = await ctx.api.call("customs", user, "GET", path)
        if response.status_code not in (200, 404):
            raise ApiError(response, f"reading the clearance of {item.airway_bill}")
        status = response.json()["status"] if response.status_code == 200 else None
        return status if status in ("arrived", "cleared") else None

    if await until(case_status, ctx.wait_timeout, f"customs case of {item.airway_bill}") == (
        "cleared"
    ):
        return False
    response = await ctx.api.call(
        "customs",
        user,
        "POST",
        f"{path}/fast-track",
        json=payloads.fast_track(item.consignment, item.copy),
        key=item.step_key("fast-track"),
    )
    if response.status_code != 200:
        raise ApiError(response, f"releasing {item.airway_bill}")
    return True


# --- allocation ----------------------------------------------------------------------------


async def allocation_round(ctx: Context, item: Item) -> bool:
    """On main the allocation service decides the round itself on the release: wait for it."""

    async def decided() -> dict[str, Any] | None:
        response = await ctx.api.call(
            "allocation", "allocation.moh", "GET", f"/api/v1/rounds/{item.shipment_id}"
        )
        if response.status_code not in (200, 404):
            raise ApiError(response, f"reading the round of {item.airway_bill}")
        return response.json() if response.status_code == 200 else None

    item.round = await until(decided, ctx.wait_timeout, f"allocation round of {item.airway_bill}")
    return False


async def province_codes(api: Api) -> list[str]:
    response = await api.call("allocation", "allocation.moh", "GET", "/api/v1/provinces")
    if response.status_code != 200:
        raise ApiError(response, "listing the provinces")
    return [province["code"] for province in response.json()]


def expected_notices(rounds: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The round ids each recipient has a notice of, from the rounds' shares."""
    expected: dict[str, set[str]] = {}
    for round_ in rounds:
        for line in round_["lines"]:
            for share in line["shares"]:
                expected.setdefault(share["recipient_code"], set()).add(round_["round_id"])
    return expected


async def inbox_notices(ctx: Context, code: str, rounds: set[str]) -> list[dict[str, Any]]:
    """The province's notices of these rounds, once all are there (the inbox is a projection
    and may lag the round)."""
    path = f"/api/v1/provinces/{code}/notices"

    async def complete() -> list[dict[str, Any]] | None:
        # Read as the national viewer: one sign-in instead of one per province.
        notices = [n async for n in pages(ctx.api, "allocation", "viewer", path, {})]
        ours = [n for n in notices if n["round_id"] in rounds]
        return ours if {n["round_id"] for n in ours} == rounds else None

    return await until(complete, ctx.wait_timeout, f"notices of province {code}")


async def acknowledge(ctx: Context, notice: dict[str, Any]) -> bool:
    if notice["status"] != "new":
        return False
    code, number = notice["province_code"], notice["notice_number"]
    response = await ctx.api.call(
        "allocation",
        f"province-{code}",
        "POST",
        f"/api/v1/provinces/{code}/notices/{number}/acknowledge",
        key=f"demo2021:{number}:acknowledge",
    )
    if response.status_code != 200:
        raise ApiError(response, f"acknowledging {number}")
    return True


async def until(probe: Callable[[], Awaitable[T | None]], patience: float, what: str) -> T:
    """Polls ``probe`` until it answers something: other services learn through Kafka."""
    deadline, pause = time.monotonic() + patience, 0.1
    while time.monotonic() < deadline:
        if result := await probe():
            return result
        await asyncio.sleep(pause)
        pause = min(2.0, pause * 1.5)
    raise TimeoutError(f"waited {patience:.0f}s for the {what}")
