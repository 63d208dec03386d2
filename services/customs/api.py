"""Customs HTTP API: the clearance queue, a case, and the fast-track release."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.customs import domain
from services.customs.application import cases
from shared.auth import Role
from shared.contracts.customs import Examination, Lane
from shared.contracts.limits import CODE_LENGTH, REMARKS_LENGTH, Code, FreeText
from shared.db import Conn
from shared.decider import NotFound
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.pagination import Page, decode_cursor, moment, page_of
from shared.http.security import CurrentUser
from shared.observability import observe_lead_time

router = APIRouter(prefix="/api/v1/clearances", tags=["clearances"])
STATUSES = "^(awaiting_arrival|arrived|cleared)$"


class FastTrackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    declaration_number: Code = Field(
        min_length=1, max_length=CODE_LENGTH, examples=["104123456789"]
    )
    lane: Lane = Lane.GREEN
    examination: Examination = Examination.NONE
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)


class ClearancePublic(BaseModel):
    shipment_id: UUID
    airport: str
    donor: str
    channel: str
    airway_bill: str
    expected_arrival: datetime
    status: str
    lines: list[dict[str, Any]]
    received: list[dict[str, Any]] | None
    opened_at: datetime
    arrived_at: datetime | None
    cleared_at: datetime | None
    cleared_by: str | None
    declaration_number: str | None
    lane: str | None
    examination: str | None
    remarks: str | None
    cleared_lines: list[dict[str, Any]] | None


def _public(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["lines"] = data["lines"] or []
    data.pop("last_position", None)
    return ClearancePublic.model_validate(data).model_dump(mode="json")


async def _case(db: Conn | asyncpg.Pool, shipment_id: UUID) -> dict[str, Any]:
    row = await db.fetchrow("SELECT * FROM clearance_cases WHERE shipment_id = $1", shipment_id)
    if row is None:
        raise NotFound(f"no clearance case for shipment {shipment_id}", code="case-not-found")
    return _public(row)


@router.get("", response_model=Page[ClearancePublic])
async def queue(
    runtime: RuntimeDep,
    user: CurrentUser,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
    airport: Annotated[str | None, Query(pattern="^[A-Za-z]{3}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    """The clearance queue, oldest first; an officer sees the airports of its scope."""
    user.require(Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    seen = user.visible(airport.upper() if airport else None)
    after = decode_cursor(cursor, moment, UUID)
    rows = await runtime.pool.fetch(
        """SELECT * FROM clearance_cases
           WHERE ($1::text[] IS NULL OR airport = ANY($1)) AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (opened_at, shipment_id) > ($3, $4::uuid))
           ORDER BY opened_at, shipment_id LIMIT $5""",
        seen,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    return page_of(rows, limit, _public, "opened_at", "shipment_id")


@router.get("/{shipment_id}", response_model=ClearancePublic)
async def get_case(shipment_id: UUID, runtime: RuntimeDep, user: CurrentUser) -> Any:
    user.require(Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    case = await _case(runtime.pool, shipment_id)
    user.require_scope(case["airport"], "airport")
    return case


@router.post("/{shipment_id}/fast-track", response_model=ClearancePublic)
async def fast_track(
    shipment_id: UUID,
    body: FastTrackCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Release the consignment on the fast track (``ClearedFastTrack``)."""
    user.require(Role.CUSTOMS_OFFICER)
    case = await _case(runtime.pool, shipment_id)
    user.require_scope(case["airport"], "airport")
    command = domain.ClearFastTrack(
        declaration_number=body.declaration_number,
        lane=body.lane,
        examination=body.examination,
        remarks=body.remarks,
        now=datetime.now(UTC),
    )

    async def action(conn: Conn) -> tuple[int, Any]:
        await cases(runtime).handle(
            conn, str(shipment_id), command, command_metadata(user, request)
        )
        cleared = await _case(conn, shipment_id)
        observe_lead_time("arrived_to_cleared", cleared["arrived_at"], cleared["cleared_at"])
        return 200, cleared

    return await run_command(
        request, runtime, user, body.model_dump(mode="json"), action, idempotency_key
    )
