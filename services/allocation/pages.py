"""Allocation pages: the rounds for the ministry, and each province's live inbox."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shared.auth import Principal, Role
from shared.http.app import RuntimeDep, render
from shared.http.pages import PageForbidden, signed_in
from shared.http.security import MaybeUser
from shared.reference_data import provinces

router = APIRouter(include_in_schema=False)
READERS = (Role.PROVINCE_OFFICER, Role.ALLOCATION_OFFICER, Role.NATIONAL_VIEWER)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, runtime: RuntimeDep, user: MaybeUser) -> Response:
    reader = signed_in(user, *READERS)
    if reader.role is Role.PROVINCE_OFFICER:
        return RedirectResponse(f"/provinces/{reader.scope[0]}", status_code=303)
    rows = await runtime.pool.fetch(
        "SELECT * FROM allocation_rounds ORDER BY decided_at DESC LIMIT 50"
    )
    rounds = [dict(r) | {"lines": json.loads(r["lines"])} for r in rows]
    return render(request, "rounds.html", user=reader, rounds=rounds, provinces=provinces())


@router.get("/provinces/{code}", response_class=HTMLResponse)
async def inbox(code: str, request: Request, runtime: RuntimeDep, user: MaybeUser) -> HTMLResponse:
    reader = _province_reader(user, code)
    return render(
        request,
        "inbox.html",
        user=reader,
        province=_province(code),
        notices=await _notices(runtime, code),
    )


@router.get("/provinces/{code}/fragment", response_class=HTMLResponse)
async def inbox_fragment(
    code: str, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    """Only the list, for the live refresh."""
    reader = _province_reader(user, code)
    return render(
        request,
        "_notices.html",
        user=reader,
        province=_province(code),
        notices=await _notices(runtime, code),
    )


def _province_reader(user: Principal | None, code: str) -> Principal:
    reader = signed_in(user, *READERS)
    if not any(p.code == code for p in provinces()) or not reader.covers(code):
        raise PageForbidden(reader)
    return reader


def _province(code: str) -> Any:
    return next(p for p in provinces() if p.code == code)


async def _notices(runtime: Any, code: str) -> list[dict[str, Any]]:
    rows = await runtime.pool.fetch(
        "SELECT * FROM notices WHERE province_code = $1 ORDER BY position DESC LIMIT 100", code
    )
    return [dict(r) | {"lots": json.loads(r["lots"])} for r in rows]
