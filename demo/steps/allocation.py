"""Allocation: wait for the consignment's round, have a drafted round approved, read the
recipients' inboxes (the provinces' and the national recipients'), acknowledge each notice
as its recipient."""

from __future__ import annotations

from typing import Any

from demo import payloads
from demo.client import Api, ApiError
from demo.steps.base import Context, Item, notice_path, pages, receiving_officer, until


async def allocation_round(ctx: Context, item: Item) -> bool:
    """The allocation service drafts (or, on the fast track, decides) the round itself on
    the release: wait for it."""

    async def decided() -> dict[str, Any] | None:
        response = await ctx.api.call(
            "allocation", "allocation.moh", "GET", f"/api/v1/rounds/{item.shipment_id}"
        )
        if response.status_code not in (200, 404):
            raise ApiError(response, f"reading the round of {item.airway_bill}")
        return response.json() if response.status_code == 200 else None

    item.round = await until(decided, ctx.wait_timeout, f"allocation round of {item.airway_bill}")
    return False


APPROVER = "approver.moh"


async def approve(ctx: Context, item: Item) -> bool:
    """A drafted round, approved as drafted by the Ministry's approver under a decision
    number of its own; a fast-track round is approved already (as is a round of a service
    that approves every round itself: no ``status``)."""
    assert item.round is not None, "wait for the round first"
    if item.round.get("status", "approved") != "drafted":
        return False
    body = payloads.approval(item.consignment, item.copy, ctx.today)
    response = await ctx.api.call(
        "allocation",
        APPROVER,
        "POST",
        f"/api/v1/rounds/{item.round['round_id']}/approve",
        json=body,
        key=item.step_key("approve"),
    )
    if response.status_code != 200:
        raise ApiError(response, f"approving the round of {item.airway_bill}")
    item.round = response.json()
    return True


async def recipient_codes(api: Api) -> list[str]:
    """The national recipients and the provinces: every code with an inbox."""
    response = await api.call("allocation", "allocation.moh", "GET", "/api/v1/recipients")
    if response.status_code != 200:
        raise ApiError(response, "listing the recipients")
    return [recipient["code"] for recipient in response.json()]


def expected_notices(rounds: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The round ids each recipient has a notice of, from the rounds' shares."""
    expected: dict[str, set[str]] = {}
    for round_ in rounds:
        for line in round_["lines"]:
            for share in line["shares"]:
                if not share["quantity"]:
                    continue  # a share drafted at zero is sent no notice
                expected.setdefault(share["recipient_code"], set()).add(round_["round_id"])
    return expected


async def inbox_notices(ctx: Context, code: str, rounds: set[str]) -> list[dict[str, Any]]:
    """The recipient's notices of these rounds, once all are there (the inbox is a projection
    and may lag the round)."""
    path = f"/api/v1/recipients/{code}/notices"

    async def complete() -> list[dict[str, Any]] | None:
        # Read as the national viewer: one sign-in instead of one per recipient.
        notices = [n async for n in pages(ctx.api, "allocation", "viewer", path, {})]
        ours = [n for n in notices if n["round_id"] in rounds]
        return ours if {n["round_id"] for n in ours} == rounds else None

    return await until(complete, ctx.wait_timeout, f"notices of recipient {code}")


async def acknowledge(ctx: Context, notice: dict[str, Any]) -> bool:
    if notice["status"] != "issued":
        return False
    number = notice["notice_number"]
    response = await ctx.api.call(
        "allocation",
        receiving_officer(notice["province_code"]),
        "POST",
        notice_path(notice, "acknowledge"),
        key=f"demo2021:{number}:acknowledge",
    )
    if response.status_code != 200:
        raise ApiError(response, f"acknowledging {number}")
    notice |= response.json()
    return True
