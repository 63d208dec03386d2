"""The steps of the consignment flow, through the public HTTP APIs only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.stack import Stack, until


def vaccine_consignment(
    airway_bill: str, doses: int = 811_200, airport: str = "HAN"
) -> dict[str, Any]:
    expiry = (date.today() + timedelta(days=200)).isoformat()
    first = doses * 5 // 8
    return {
        "donor": "COVAX",
        "channel": "covax",
        "airport": airport,
        "flight": "VN0317",
        "airway_bill": airway_bill,
        "expected_arrival": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "consignee": "National Expanded Programme on Immunization",
        "lines": [
            {
                "product": "Vaxzevria (AstraZeneca)",
                "category": "vaccine",
                "unit": "doses",
                "pack_size": 10,
                "quantity": doses,
                "storage": "2-8C",
                "lots": [
                    {"lot_number": "ABV5300", "expiry_date": expiry, "quantity": first},
                    {"lot_number": "ABV5301", "expiry_date": expiry, "quantity": doses - first},
                ],
            }
        ],
    }


def arrival_of(shipment: dict[str, Any]) -> dict[str, Any]:
    return {
        "arrived_at": datetime.now(UTC).isoformat(),
        "received": [
            {
                "line_no": line["line_no"],
                "lot_number": lot["lot_number"],
                "quantity": lot["quantity"],
            }
            for line in shipment["lines"]
            for lot in line["lots"]
        ],
        "remarks": "VVM stage 1, all monitors green",
    }


async def announce_and_arrive(
    stack: Stack, client: httpx.AsyncClient, airway_bill: str, doses: int = 811_200
) -> dict[str, Any]:
    response = await stack.call(
        client,
        "intake.han",
        "POST",
        "intake",
        "/api/v1/shipments",
        json=vaccine_consignment(airway_bill, doses),
        headers={"Idempotency-Key": f"announce-{airway_bill}"},
    )
    assert response.status_code == 201, response.text
    shipment = response.json()
    response = await stack.call(
        client,
        "intake.han",
        "POST",
        "intake",
        f"/api/v1/shipments/{shipment['shipment_id']}/arrival",
        json=arrival_of(shipment),
    )
    assert response.status_code == 200, response.text
    return shipment


async def case_status(stack: Stack, client: httpx.AsyncClient, shipment_id: str) -> str | None:
    response = await stack.call(
        client, "customs.han", "GET", "customs", f"/api/v1/clearances/{shipment_id}"
    )
    return response.json()["status"] if response.status_code == 200 else None


async def fast_track(stack: Stack, client: httpx.AsyncClient, shipment_id: str) -> httpx.Response:
    await until(lambda: _arrived(stack, client, shipment_id))
    return await stack.call(
        client,
        "customs.han",
        "POST",
        "customs",
        f"/api/v1/clearances/{shipment_id}/fast-track",
        json={
            "declaration_number": f"D{shipment_id[:8]}",
            "lane": "green",
            "examination": "none",
            "remarks": "relief consignment",
        },
    )


async def _arrived(stack: Stack, client: httpx.AsyncClient, shipment_id: str) -> bool:
    return await case_status(stack, client, shipment_id) == "arrived"


async def allocation_round(
    stack: Stack, client: httpx.AsyncClient, shipment_id: str
) -> dict[str, Any] | None:
    response = await stack.call(
        client, "allocation.moh", "GET", "allocation", f"/api/v1/rounds/{shipment_id}"
    )
    return response.json() if response.status_code == 200 else None


async def inbox(
    stack: Stack, client: httpx.AsyncClient, code: str, as_user: str | None = None
) -> httpx.Response:
    return await stack.call(
        client,
        as_user or f"province-{code}",
        "GET",
        "allocation",
        f"/api/v1/provinces/{code}/notices",
        params={"limit": 200},
    )
