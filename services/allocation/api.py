"""Allocation HTTP API: provinces, rounds, each province's inbox, acknowledgements, live feed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from services.allocation import domain, queries
from services.allocation.application import AcknowledgeHandler, allocations
from services.allocation.domain import NoticeStatus
from services.allocation.feed import HEARTBEAT_SECONDS, NoticeFeed
from services.allocation.queries import NoticeView
from shared.auth import Principal, Role
from shared.db import Conn
from shared.decider import NotFound
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.pagination import Page, decode_cursor, position
from shared.http.security import CurrentUser
from shared.reference_data import province_codes, provinces

router = APIRouter(prefix="/api/v1", tags=["allocation"])
feed = NoticeFeed()
ProvinceCode = Annotated[str, Path(max_length=16, description="a province's 2025 code")]
NoticeNumber = Annotated[str, Path(max_length=96, pattern="^[A-Za-z0-9-]+$")]


class ProvincePublic(BaseModel):
    code: str
    name_vi: str
    name_en: str
    kind: str
    population_scale: int


class NoticePublic(NoticeView):
    """A notice as the API shows it, without its inbox position."""


def _may_read_province(user: Principal, code: str) -> None:
    if code not in province_codes():
        raise NotFound(f"no province with code {code}", field="code", code="province-not-found")
    user.require(Role.PROVINCE_OFFICER, Role.ALLOCATION_OFFICER, Role.NATIONAL_VIEWER)
    user.require_scope(code, "province")


@router.get("/provinces", response_model=list[ProvincePublic])
async def list_provinces(user: CurrentUser) -> list[dict[str, Any]]:
    return [p.__dict__ for p in provinces()]


@router.get("/provinces/{code}/notices", response_model=Page[NoticePublic])
async def inbox(
    code: ProvinceCode,
    runtime: RuntimeDep,
    user: CurrentUser,
    status: NoticeStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Page[queries.NoticeInInbox]:
    """A province's allocation notices, newest first."""
    _may_read_province(user, code)
    after = decode_cursor(cursor, position)
    return await queries.inbox_page(runtime.pool, code, status, after[0] if after else None, limit)


@router.get("/provinces/{code}/notices/stream", response_class=StreamingResponse)
async def live_inbox(
    code: ProvinceCode, request: Request, user: CurrentUser, runtime: RuntimeDep
) -> Any:
    """Server-Sent Events: ``notice`` whenever the province's inbox changes."""
    _may_read_province(user, code)

    async def events() -> AsyncIterator[str]:
        async with feed.subscribe(code) as changes:
            yield "retry: 3000\n\n"
            while not await request.is_disconnected():
                try:
                    await asyncio.wait_for(changes.get(), timeout=HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                count = await queries.new_notices(runtime.pool, code)
                yield f"event: notice\ndata: {json.dumps({'province': code, 'new': count})}\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get("/provinces/{code}/notices/{number}", response_model=NoticePublic)
async def get_notice(
    code: ProvinceCode, number: NoticeNumber, runtime: RuntimeDep, user: CurrentUser
) -> NoticeView:
    _may_read_province(user, code)
    return await queries.existing_notice(runtime.pool, code, number)


@router.post("/provinces/{code}/notices/{number}/acknowledge", response_model=NoticePublic)
async def acknowledge(
    code: ProvinceCode,
    number: NoticeNumber,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The province health department has received the notice (``NoticeAcknowledged``)."""
    if code not in province_codes():
        raise NotFound(f"no province with code {code}", field="code", code="province-not-found")
    user.require(Role.PROVINCE_OFFICER)
    user.require_scope(code, "province")
    command = domain.AcknowledgeNotice(
        notice_number=number, province_code=code, now=datetime.now(UTC)
    )
    handle = AcknowledgeHandler(allocations(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        acknowledged = await handle(conn, command, command_metadata(user, request))
        return 200, acknowledged.model_dump(mode="json")

    return await run_command(request, runtime, user, {"notice": number}, action, idempotency_key)
