"""Customs officers' page: the clearance queue with the fast-track action."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from shared.auth import Role
from shared.contracts.customs import Examination, Lane
from shared.http.app import RuntimeDep, render
from shared.http.pages import signed_in
from shared.http.security import MaybeUser

router = APIRouter(include_in_schema=False)
STATUSES = ("awaiting_arrival", "arrived", "cleared")


@router.get("/", response_class=HTMLResponse)
async def queue(
    request: Request, runtime: RuntimeDep, user: MaybeUser, status: str = "arrived"
) -> HTMLResponse:
    reader = signed_in(user, Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    status = status if status in STATUSES else "arrived"
    scope = list(reader.scope) if reader.role is Role.CUSTOMS_OFFICER else None
    rows = await runtime.pool.fetch(
        "SELECT * FROM clearance_cases WHERE status = $1"
        " AND ($2::text[] IS NULL OR airport = ANY($2)) ORDER BY opened_at LIMIT 100",
        status,
        scope,
    )
    return render(
        request,
        "queue.html",
        user=reader,
        cases=[_row(r) for r in rows],
        status=status,
        statuses=STATUSES,
        lanes=list(Lane),
        examinations=list(Examination),
    )


def _row(row: Any) -> dict[str, Any]:
    data = dict(row)
    for column in ("lines", "received", "cleared_lines"):
        data[column] = json.loads(data[column]) if data[column] else []
    data["received_total"] = sum(r["quantity"] for r in data["received"])
    return data
