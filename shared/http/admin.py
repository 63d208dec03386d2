"""The admin page: dead letters, events the broker refused, parked events; each retryable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from shared.auth import Role
from shared.http.deps import RuntimeDep
from shared.http.ops import quarantine_page
from shared.http.pages import VIET_NAM, signed_in
from shared.http.rendering import render
from shared.http.security import MaybeUser

router = APIRouter(include_in_schema=False)
PAGE = 50
After = Annotated[int, Query(ge=0, le=2**62)]


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(
    request: Request,
    runtime: RuntimeDep,
    user: MaybeUser,
    dead_after: After = 0,
    quarantine_after: After = 0,
    parked_after: After = 0,
) -> HTMLResponse:
    reader = signed_in(user, Role.ADMIN)
    consumer = runtime.consumer
    dead = await consumer.dead_letters(dead_after, PAGE + 1) if consumer else []
    parked = await consumer.parked(parked_after, PAGE + 1) if consumer else []
    quarantine = await quarantine_page(runtime, quarantine_after, PAGE + 1)
    for row in quarantine:
        row["since"] = row["since"].astimezone(VIET_NAM)
    return render(
        request,
        "admin.html",
        user=reader,
        consumes=consumer is not None,
        dead_letters=[
            {**d.__dict__, "dead_at": d.dead_at.astimezone(VIET_NAM)} for d in dead[:PAGE]
        ],
        dead_next=dead[PAGE - 1].id if len(dead) > PAGE else None,
        quarantine=quarantine[:PAGE],
        quarantine_next=quarantine[PAGE - 1]["id"] if len(quarantine) > PAGE else None,
        parked=parked[:PAGE],
        parked_next=parked[PAGE - 1].id if len(parked) > PAGE else None,
    )
