"""The intake officer's steps: announce, count the arrival lot by lot, file the VARs, close."""

from __future__ import annotations

from typing import Any

from demo import payloads
from demo.client import ApiError
from demo.steps.base import Context, Item, officer

PART = 1  # the replay brings each consignment on one flight


async def announce(ctx: Context, item: Item) -> bool:
    if item.shipment is not None:
        return False
    body = payloads.announcement(item.consignment, item.copy, ctx.shift, ctx.today)
    response = await _post(ctx, item, "", body, "announce", expected=201)
    item.shipment = response
    return True


async def inspect(ctx: Context, item: Item) -> bool:
    """The arrival part, every lot counted and accepted (``ShipmentArrived`` v2)."""
    assert item.shipment is not None
    if item.shipment["status"] != "announced":
        return False
    body = payloads.inspection(item.consignment, ctx.shift)
    item.shipment = await _post(ctx, item, "/inspection", body, "inspection")
    return True


async def file_reports(ctx: Context, item: Item) -> bool:
    """The VAR of each vaccine line of the part, where not yet filed."""
    detail = await _detail(ctx, item)
    due = [r for r in detail["arrival_reports"] if r["filed_at"] is None]
    for report in due:
        body = payloads.arrival_report(report["part_no"], report["line_no"])
        step = f"var-{report['part_no']}-{report['line_no']}"
        item.shipment = await _post(ctx, item, "/arrival-reports", body, step)
    return bool(due)


async def close(ctx: Context, item: Item) -> bool:
    """Every part is in: what was accepted goes on to customs (``ShipmentClosed``)."""
    assert item.shipment is not None
    if item.shipment["status"] != "partially_arrived":
        return False
    body = {"remarks": "2021 replay: every box in"}
    item.shipment = await _post(ctx, item, "/close", body, "close")
    return True


async def _detail(ctx: Context, item: Item) -> dict[str, Any]:
    user = officer("intake", item.consignment.airport)
    path = f"/api/v1/shipments/{item.shipment_id}"
    response = await ctx.api.call("intake", user, "GET", path)
    if response.status_code != 200:
        raise ApiError(response, f"reading {item.airway_bill}")
    detail: dict[str, Any] = response.json()
    return detail


async def _post(
    ctx: Context, item: Item, action: str, body: dict[str, Any], step: str, expected: int = 200
) -> dict[str, Any]:
    user = officer("intake", item.consignment.airport)
    path = f"/api/v1/shipments/{item.shipment_id}{action}" if action else "/api/v1/shipments"
    response = await ctx.api.call("intake", user, "POST", path, json=body, key=item.step_key(step))
    if response.status_code != expected:
        raise ApiError(response, f"{step} of {item.airway_bill}")
    answer: dict[str, Any] = response.json()
    return answer
