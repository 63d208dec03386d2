"""What every step of the replay shares: the consignment being replayed (``Item``), the
run's context, the demo logins, paging through a list, and waiting for what other services
learn through Kafka.

A step checks the current state (GET) before acting, so that a second run changes nothing,
and sends a stable Idempotency-Key, so that a retried request changes nothing either. A step
returns True when it changed something, False when it found the step done.
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
    fast_track_all: bool = False  # clear every consignment on the fast track


def officer(kind: str, airport: str) -> str:
    """The demo login for an airport; airports without their own officer use ``admin``."""
    return f"{kind}.{DEMO_AIRPORTS[airport]}" if airport in DEMO_AIRPORTS else "admin"


def receiving_officer(code: str) -> str:
    """The demo login of a recipient: ``province-01`` for a province (its code is a number),
    ``recipient-mod`` for a national recipient."""
    return f"province-{code}" if code.isdigit() else f"recipient-{code.lower()}"


def notice_path(notice: dict[str, Any], action: str = "") -> str:
    """A notice's API path in its recipient's inbox, or of one of its commands."""
    path = f"/api/v1/recipients/{notice['province_code']}/notices/{notice['notice_number']}"
    return f"{path}/{action}" if action else path


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


async def until(probe: Callable[[], Awaitable[T | None]], patience: float, what: str) -> T:
    """Polls ``probe`` until it answers something: other services learn through Kafka."""
    deadline, pause = time.monotonic() + patience, 0.1
    while time.monotonic() < deadline:
        if result := await probe():
            return result
        await asyncio.sleep(pause)
        pause = min(2.0, pause * 1.5)
    raise TimeoutError(f"waited {patience:.0f}s for the {what}")
