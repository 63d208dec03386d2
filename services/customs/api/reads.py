"""The clearance queue, a case, its history, and the fast-track release."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from services.customs import queries
from services.customs.api.bodies import ClearancePublic, FastTrackCreate
from services.customs.application import FastTrackHandler, cases, officer_of
from services.customs.domain import CaseStatus
from services.customs.queries import CaseView, HistoryEntry
from shared.auth import Role
from shared.contracts.values import Priority
from shared.db import Conn
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.pagination import Page, decode_cursor, moment
from shared.http.security import CurrentUser

router = APIRouter(prefix="/api/v1/clearances", tags=["clearances"])


@router.get("", response_model=Page[ClearancePublic])
async def queue(
    runtime: RuntimeDep,
    user: CurrentUser,
    status: CaseStatus | None = None,
    airport: Annotated[str | None, Query(pattern="^[A-Za-z]{3}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    priority: Priority | None = None,
) -> Page[CaseView]:
    """The clearance queue, oldest first; an officer sees the airports of its scope.
    ``priority=emergency`` lists only the emergencies (the pages' queues put them first)."""
    user.require(Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    seen = user.visible(airport.upper() if airport else None)
    after = decode_cursor(cursor, moment, UUID)
    sort_key = (after[0], after[1]) if after else None
    page = await queries.cases_page(runtime.pool, seen, status, sort_key, limit, priority)
    return Page[CaseView](
        items=[ClearancePublic.of_view(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/{shipment_id}", response_model=ClearancePublic)
async def get_case(shipment_id: UUID, runtime: RuntimeDep, user: CurrentUser) -> CaseView:
    """The case: checklist, holds, examination, per-lot presented/released/held/refused."""
    user.require(Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    case = await queries.existing_case(runtime.pool, shipment_id)
    user.require_scope(case.airport, "airport")
    return ClearancePublic.of_view(case)


@router.get("/{shipment_id}/history", response_model=list[HistoryEntry])
async def case_history(
    shipment_id: UUID, runtime: RuntimeDep, user: CurrentUser
) -> list[HistoryEntry]:
    """Every recorded step of the case, oldest first, with who did it (from the event store)."""
    user.require(Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    case = await queries.existing_case(runtime.pool, shipment_id)
    user.require_scope(case.airport, "airport")
    return await queries.history(runtime.pool, shipment_id, runtime.store)


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
    command = body.to_command(datetime.now(UTC))
    handle = FastTrackHandler(cases(runtime))
    metadata, check = command_metadata(user, request), officer_of(user, shipment_id)

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        cleared = await handle(conn, shipment_id, command, metadata, check)
        return 200, ClearancePublic.of_view(cleared).model_dump(mode="json")

    return await run_command(request, runtime, user, body, action, idempotency_key)
