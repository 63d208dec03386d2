"""Allocation HTTP API: provinces, rounds, each province's inbox, acknowledgements, live feed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from services.allocation import domain
from services.allocation.application import allocations
from services.allocation.feed import HEARTBEAT_SECONDS, NoticeFeed
from shared.auth import Principal, Role
from shared.db import Conn
from shared.decider import NotFound
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.pagination import Page, decode_cursor, page_of, position
from shared.http.security import CurrentUser
from shared.observability import observe_lead_time
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


class NoticePublic(BaseModel):
    notice_number: str
    round_id: str
    shipment_id: UUID
    province_code: str
    line_no: int
    product: str
    unit: str
    pack_size: int
    quantity: int
    packs: int
    lots: list[dict[str, Any]]
    status: str
    allocated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class RoundPublic(BaseModel):
    round_id: str
    shipment_id: UUID
    policy: str
    decided_at: datetime
    lines: list[dict[str, Any]]


def _may_read_province(user: Principal, code: str) -> None:
    if code not in province_codes():
        raise NotFound(f"no province with code {code}", field="code", code="province-not-found")
    user.require(Role.PROVINCE_OFFICER, Role.ALLOCATION_OFFICER, Role.NATIONAL_VIEWER)
    user.require_scope(code, "province")


def _notice(row: Any) -> dict[str, Any]:
    data = dict(row)
    data.pop("position", None)
    return NoticePublic.model_validate(data).model_dump(mode="json")


async def _find_notice(db: Conn | asyncpg.Pool, code: str, number: str) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT * FROM notices WHERE notice_number = $1 AND province_code = $2", number, code
    )
    if row is None:
        raise NotFound(f"no notice {number} for province {code}", code="notice-not-found")
    return _notice(row)


@router.get("/provinces", response_model=list[ProvincePublic])
async def list_provinces(user: CurrentUser) -> list[dict[str, Any]]:
    return [p.__dict__ for p in provinces()]


@router.get("/provinces/{code}/notices", response_model=Page[NoticePublic])
async def inbox(
    code: ProvinceCode,
    runtime: RuntimeDep,
    user: CurrentUser,
    status: Annotated[str | None, Query(pattern="^(new|acknowledged)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    """A province's allocation notices, newest first."""
    _may_read_province(user, code)
    after = decode_cursor(cursor, position)
    rows = await runtime.pool.fetch(
        """SELECT * FROM notices WHERE province_code = $1 AND ($2::text IS NULL OR status = $2)
             AND ($3::bigint IS NULL OR position < $3)
           ORDER BY position DESC LIMIT $4""",
        code,
        status,
        after[0] if after else None,
        limit + 1,
    )
    return page_of(rows, limit, _notice, "position")


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
                count = await runtime.pool.fetchval(
                    "SELECT count(*) FILTER (WHERE status = 'new') FROM notices"
                    " WHERE province_code = $1",
                    code,
                )
                yield f"event: notice\ndata: {json.dumps({'province': code, 'new': count})}\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get("/provinces/{code}/notices/{number}", response_model=NoticePublic)
async def get_notice(
    code: ProvinceCode, number: NoticeNumber, runtime: RuntimeDep, user: CurrentUser
) -> Any:
    _may_read_province(user, code)
    return await _find_notice(runtime.pool, code, number)


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
    notice = await _find_notice(runtime.pool, code, number)
    command = domain.AcknowledgeNotice(
        notice_number=number, province_code=code, now=datetime.now(UTC)
    )

    async def action(conn: Conn) -> tuple[int, Any]:
        await allocations(runtime).handle(
            conn, str(notice["shipment_id"]), command, command_metadata(user, request)
        )
        acknowledged = await _find_notice(conn, code, number)
        if notice["status"] == "new":
            observe_lead_time(
                "allocated_to_acknowledged", notice["allocated_at"], acknowledged["acknowledged_at"]
            )
        return 200, acknowledged

    return await run_command(request, runtime, user, {"notice": number}, action, idempotency_key)


@router.get("/rounds", response_model=list[RoundPublic])
async def list_rounds(
    runtime: RuntimeDep, user: CurrentUser, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[dict[str, Any]]:
    user.require(Role.ALLOCATION_OFFICER, Role.NATIONAL_VIEWER)
    rows = await runtime.pool.fetch(
        "SELECT * FROM allocation_rounds ORDER BY decided_at DESC LIMIT $1", limit
    )
    return [_round(r) for r in rows]


@router.get("/rounds/{shipment_id}", response_model=RoundPublic)
async def get_round(shipment_id: UUID, runtime: RuntimeDep, user: CurrentUser) -> Any:
    user.require(Role.ALLOCATION_OFFICER, Role.NATIONAL_VIEWER)
    row = await runtime.pool.fetchrow(
        "SELECT * FROM allocation_rounds WHERE shipment_id = $1", shipment_id
    )
    if row is None:
        raise NotFound(f"no allocation round for shipment {shipment_id}", code="round-not-found")
    return _round(row)


def _round(row: Any) -> dict[str, Any]:
    data = dict(row)
    data.pop("last_position", None)
    return RoundPublic.model_validate(data).model_dump(mode="json")
