"""A red-lane customs case through the public APIs of intake and customs, over Kafka and
PostgreSQL: a hold on one lot, the examination, a partial release, then the rest.

Allocation on this branch reacts only to ``ClearedFastTrack``; what ``GoodsReleased``
carries is checked here through the customs API (the case and its history)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.flows import announce_and_arrive, case_status
from tests.e2e.stack import Stack, until

pytestmark = pytest.mark.e2e


async def _step(
    stack: Stack, client: httpx.AsyncClient, shipment_id: str, step: str, body: dict[str, Any]
) -> httpx.Response:
    return await stack.call(
        client, "customs.han", "POST", "customs", f"/api/v1/clearances/{shipment_id}/{step}",
        json=body,
    )  # fmt: skip


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _released(history: list[dict[str, Any]]) -> list[dict[str, int]]:
    """Units per lot of each GoodsReleased, in order."""
    return [
        {lot["lot_number"]: lot["quantity"] for line in e["data"]["lines"] for lot in line["lots"]}
        for e in history
        if e["event_type"] == "aidport.customs.GoodsReleased.v1"
    ]


async def test_a_red_lane_case_with_a_hold_released_in_two_parts(stack: Stack) -> None:
    stack.start()
    async with httpx.AsyncClient(timeout=30) as client:
        shipment = await announce_and_arrive(stack, client, "738-20000001", doses=8_000)
        shipment_id = shipment["shipment_id"]
        first_lot, second_lot = (lot["quantity"] for lot in shipment["lines"][0]["lots"])

        async def arrived() -> bool:
            return await case_status(stack, client, shipment_id) == "arrived"

        await until(arrived)
        declaration = {"declaration_number": "104123456789", "declaration_type": "simplified",
                       "exemption_basis": "Resolution 106/NQ-CP"}  # fmt: skip
        _ok(await _step(stack, client, shipment_id, "declaration", declaration))
        _ok(await _step(stack, client, shipment_id, "lane", {"lane": "red"}))
        hold = {"reason": "quarantine", "lots": [
            {"line_no": 1, "lot_number": "ABV5301", "quantity": second_lot}]}  # fmt: skip
        _ok(await _step(stack, client, shipment_id, "holds", hold))

        unexamined = await _step(stack, client, shipment_id, "release", {"everything": True})
        assert unexamined.status_code == 409 and "examination" in unexamined.json()["detail"]

        examination = {"place": "cold_store", "partial": True, "findings": "seals intact"}
        _ok(await _step(stack, client, shipment_id, "examination", examination))
        partial = _ok(await _step(stack, client, shipment_id, "release", {"everything": True}))
        assert partial["status"] == "arrived"
        assert (partial["released_total"], partial["held_total"]) == (first_lot, second_lot)

        _ok(await _step(stack, client, shipment_id, "holds/H1/release", {"note": "lifted"}))
        rest = _ok(await _step(stack, client, shipment_id, "release", {"everything": True}))
        # Intake's one-shot arrival also closed its side, so nothing is left: the case is done.
        assert (rest["status"], rest["closure"]) == ("closed", "completed")
        assert rest["released_total"] == 8_000

        history = await stack.call(
            client, "viewer", "GET", "customs", f"/api/v1/clearances/{shipment_id}/history"
        )
        assert history.status_code == 200, history.text
        assert _released(history.json()) == [{"ABV5300": first_lot}, {"ABV5301": second_lot}]
        actors = {e["actor"] for e in history.json() if "Goods" in e["event_type"]}
        assert "customs.han" in actors
