"""Allocation pages: the rounds for the ministry, and each province's live inbox."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.allocation import queries
from shared.auth import Principal, Role
from shared.http.deps import RuntimeDep
from shared.http.pages import PageForbidden, page_row, signed_in
from shared.http.rendering import render
from shared.http.security import MaybeUser
from shared.reference_data import provinces
from shared.runtime import Runtime

router = APIRouter(include_in_schema=False)
READERS = (Role.PROVINCE_OFFICER, Role.ALLOCATION_OFFICER, Role.NATIONAL_VIEWER)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, runtime: RuntimeDep, user: MaybeUser) -> Response:
    reader = signed_in(user, *READERS)
    if reader.role is Role.PROVINCE_OFFICER:
        if not reader.scope:
            raise PageForbidden(reader)
        return RedirectResponse(f"/provinces/{reader.scope[0]}", status_code=303)
    rounds = [page_row(r.model_dump()) for r in await queries.latest_rounds(runtime.pool)]
    return render(request, "rounds.html", user=reader, rounds=rounds, provinces=provinces())


@router.get("/provinces/{code}", response_class=HTMLResponse)
async def inbox(code: str, request: Request, runtime: RuntimeDep, user: MaybeUser) -> HTMLResponse:
    return await _inbox(request, runtime, user, code, "inbox.html")


@router.get("/provinces/{code}/fragment", response_class=HTMLResponse)
async def inbox_fragment(
    code: str, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    """Only the list, fetched again by the inbox page when the live feed says it changed."""
    return await _inbox(request, runtime, user, code, "_notices.html")


async def _inbox(
    request: Request, runtime: Runtime, user: Principal | None, code: str, template: str
) -> HTMLResponse:
    reader = signed_in(user, *READERS)
    province = next((p for p in provinces() if p.code == code), None)
    if province is None:
        return render(request, "not_found.html", status_code=404, user=reader)
    if not reader.covers(code):  # a province officer reads its own province only
        raise PageForbidden(reader)
    notices = [page_row(n.model_dump()) for n in await queries.inbox(runtime.pool, code)]
    return render(request, template, user=reader, province=province, notices=notices)
