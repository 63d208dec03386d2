"""Delivery: the national store (store.nepi) dispatches each notice; its recipient (a province
or a national recipient) confirms receipt, every unit accepted."""

from __future__ import annotations

from typing import Any

from demo import payloads
from demo.client import ApiError
from demo.steps.base import Context, notice_path, receiving_officer

STORE = "store.nepi"
RECEIVED = ("received", "received_with_discrepancies")


async def dispatch(ctx: Context, notice: dict[str, Any]) -> bool:
    if notice["status"] not in ("issued", "acknowledged"):
        return False
    notice |= await _post(ctx, notice, STORE, "dispatch", payloads.dispatch(notice, ctx.today))
    return True


async def confirm_receipt(ctx: Context, notice: dict[str, Any]) -> bool:
    if notice["status"] in RECEIVED:
        return False
    user = receiving_officer(notice["province_code"])
    notice |= await _post(ctx, notice, user, "receipt", payloads.receipt(notice))
    return True


async def _post(
    ctx: Context, notice: dict[str, Any], user: str, action: str, body: dict[str, Any]
) -> dict[str, Any]:
    number = notice["notice_number"]
    response = await ctx.api.call(
        "allocation",
        user,
        "POST",
        notice_path(notice, action),
        json=body,
        key=f"demo2021:{number}:{action}",
    )
    if response.status_code != 200:
        raise ApiError(response, f"{action} of {number}")
    answer: dict[str, Any] = response.json()
    return answer
