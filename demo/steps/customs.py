"""The customs officer's steps: once intake has closed the arrival, clear the case in its
lane (declaration, documents, lane, examination if red, release of everything), or on the
fast track for the consignments that went that way."""

from __future__ import annotations

from typing import Any

from demo import payloads
from demo.client import ApiError
from demo.steps.base import Context, Item, officer, until

DONE = ("cleared", "closed")  # closed: everything released after the arrival was closed


async def clear(ctx: Context, item: Item) -> bool:
    case = await until(
        lambda: _presented(ctx, item), ctx.wait_timeout, f"customs case of {item.airway_bill}"
    )
    if case["status"] in DONE:
        return False
    if ctx.fast_track_all or payloads.fast_tracked(item.consignment):
        await _post(ctx, item, "fast-track", payloads.fast_track(item.consignment, item.copy))
    else:
        await _clear_in_lane(ctx, item, case)
    return True


async def _clear_in_lane(ctx: Context, item: Item, case: dict[str, Any]) -> None:
    """Each paper only if the case lacks it, so that a run stopped halfway resumes."""
    detail = case["detail"]
    if detail["declaration"] is None:
        await _post(ctx, item, "declaration", payloads.declaration(item.consignment, item.copy))
    for document in detail["missing_documents"]:
        body = {"document": document, "status": "received"}
        await _post(ctx, item, "documents", body, step=f"document-{document}")
    lane = payloads.lane(item.consignment)
    if detail["lane"] is None:
        await _post(ctx, item, "lane", {"lane": lane})
    if lane == "red" and detail["examination"] is None:
        await _post(ctx, item, "examination", payloads.examination())
    await _post(ctx, item, "release", payloads.release())


async def _presented(ctx: Context, item: Item) -> dict[str, Any] | None:
    """The case once customs has learnt that the arrival is closed (through Kafka)."""
    user = officer("customs", item.consignment.airport)
    response = await ctx.api.call("customs", user, "GET", f"/api/v1/clearances/{item.shipment_id}")
    if response.status_code not in (200, 404):
        raise ApiError(response, f"reading the clearance of {item.airway_bill}")
    if response.status_code == 404:
        return None
    case: dict[str, Any] = response.json()
    if case["status"] in DONE:
        return case
    arrived = case["status"] == "arrived" and case["detail"]["arrivals_completed"]
    return case if arrived else None


async def _post(
    ctx: Context, item: Item, action: str, body: dict[str, Any], step: str | None = None
) -> dict[str, Any]:
    user = officer("customs", item.consignment.airport)
    response = await ctx.api.call(
        "customs",
        user,
        "POST",
        f"/api/v1/clearances/{item.shipment_id}/{action}",
        json=body,
        key=item.step_key(step or action),
    )
    if response.status_code != 200:
        raise ApiError(response, f"{step or action} of {item.airway_bill}")
    case: dict[str, Any] = response.json()
    return case
