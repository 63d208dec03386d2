"""Allocation HTTP API: provinces, each recipient's inbox, acknowledgements, live feed.

Every recipient has an inbox at ``/recipients/{code}``: a province (2025 code) or a national
recipient (MOD, MPS, NEPI, NICVB, MOHH). The provinces' paths of before, ``/provinces/{code}``,
are the same routes, for province codes only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from services.allocation import domain, queries
from services.allocation.application import AcknowledgeHandler, allocations
from services.allocation.domain import NoticeStatus
from services.allocation.projections import NOTICES_CHANNEL
from services.allocation.queries import NoticeView
from shared.auth import Principal, Role
from shared.db import Conn
from shared.decider import NotFound
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.live import LiveFeed
from shared.http.pagination import Page, decode_cursor, position
from shared.http.security import CurrentUser
from shared.reference_data import province_codes, provinces, recipient_codes

router = APIRouter(prefix="/api/v1", tags=["allocation"])
inbox_routes = APIRouter()
feed = LiveFeed(NOTICES_CHANNEL)  # a recipient's inbox changed: its code
RecipientCode = Annotated[
    str,
    Path(
        max_length=16,
        description="a recipient's code: a province's 2025 code, or a national recipient's"
        " (MOD, MPS, NEPI, NICVB, MOHH)",
    ),
]
NoticeNumber = Annotated[str, Path(max_length=96, pattern="^[A-Za-z0-9-]+$")]


class ProvincePublic(BaseModel):
    code: str
    name_vi: str
    name_en: str
    kind: str
    population_scale: int


class NoticePublic(NoticeView):
    """A notice as the API shows it, without its inbox position."""


def known_recipient(code: str) -> None:
    if code not in recipient_codes():
        raise NotFound(f"no recipient with code {code}", field="code", code="recipient-not-found")


async def a_province(code: RecipientCode, user: CurrentUser) -> None:
    """The provinces' paths take a province's code only, as they always did (after the
    sign-in check, so that an anonymous caller still gets a 401)."""
    if code not in province_codes():
        raise NotFound(f"no province with code {code}", field="code", code="province-not-found")


def every_recipient(routes: APIRouter) -> APIRouter:
    """A recipient's routes under ``/recipients/{code}``, and the same handlers under
    ``/provinces/{code}`` for a province (the paths of before national recipients had one)."""
    both = APIRouter()
    both.include_router(routes, prefix="/recipients/{code}")
    both.include_router(routes, prefix="/provinces/{code}", dependencies=[Depends(a_province)])
    return both


def _may_read_inbox(user: Principal, code: str) -> None:
    known_recipient(code)
    user.require(Role.PROVINCE_OFFICER, Role.ALLOCATION_OFFICER, Role.NATIONAL_VIEWER)
    user.require_scope(code, "recipient")


@router.get("/provinces", response_model=list[ProvincePublic])
async def list_provinces(user: CurrentUser) -> list[dict[str, Any]]:
    return [p.__dict__ for p in provinces()]


@inbox_routes.get("/notices", response_model=Page[NoticePublic])
async def inbox(
    code: RecipientCode,
    runtime: RuntimeDep,
    user: CurrentUser,
    status: NoticeStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Page[queries.NoticeInInbox]:
    """A recipient's allocation notices, newest first; ``status=new`` (the name of
    ``issued`` before) is still understood."""
    _may_read_inbox(user, code)
    after = decode_cursor(cursor, position)
    return await queries.inbox_page(runtime.pool, code, status, after[0] if after else None, limit)


@inbox_routes.get("/notices/stream", response_class=StreamingResponse)
async def live_inbox(
    code: RecipientCode, request: Request, user: CurrentUser, runtime: RuntimeDep
) -> Any:
    """Server-Sent Events: ``notice`` whenever the recipient's inbox changes."""
    _may_read_inbox(user, code)

    async def notice(_change: str) -> str:
        count = await queries.issued_notices(runtime.pool, code)
        return f"event: notice\ndata: {json.dumps(_changed(code, count))}\n\n"

    return feed.stream(request, notice, code)


def _changed(code: str, issued: int) -> dict[str, Any]:
    """The feed's message; ``province`` and ``new`` are kept for clients of before."""
    return {"recipient": code, "issued": issued, "province": code, "new": issued}


@inbox_routes.get("/notices/{number}", response_model=NoticePublic)
async def get_notice(
    code: RecipientCode, number: NoticeNumber, runtime: RuntimeDep, user: CurrentUser
) -> NoticeView:
    _may_read_inbox(user, code)
    return await queries.existing_notice(runtime.pool, code, number)


@inbox_routes.post("/notices/{number}/acknowledge", response_model=NoticePublic)
async def acknowledge(
    code: RecipientCode,
    number: NoticeNumber,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The recipient (a province's health department, a national recipient) has read the
    notice (``NoticeAcknowledged``)."""
    known_recipient(code)
    user.require(Role.PROVINCE_OFFICER)
    user.require_scope(code, "recipient")
    command = domain.AcknowledgeNotice(
        notice_number=number, province_code=code, now=datetime.now(UTC)
    )
    handle = AcknowledgeHandler(allocations(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        acknowledged = await handle(conn, command, command_metadata(user, request))
        return 200, acknowledged.model_dump(mode="json")

    return await run_command(request, runtime, user, {"notice": number}, action, idempotency_key)


router.include_router(every_recipient(inbox_routes))
