"""The officers' steps on a case: declaration, documents, permits, lane, examination,
holds, release (normal or partial) and refusal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.customs import domain
from services.customs.api.bodies import (
    ClearancePublic,
    DeclarationCreate,
    DocumentCreate,
    ExaminationCreate,
    HoldCreate,
    HoldReleaseCreate,
    LaneCreate,
    PermitCreate,
    RefusalCreate,
    ReleaseCreate,
)
from services.customs.application import CaseWorkHandler, cases, officer_of
from services.customs.office import office_hours
from shared.auth import Principal, Role
from shared.contracts.limits import CODE_LENGTH
from shared.db import Conn
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.security import CurrentUser

router = APIRouter(prefix="/api/v1/clearances", tags=["clearances"])


MakeCommand = Callable[[Principal, datetime], domain.OfficerCommand]


async def _work(
    shipment_id: UUID,
    body: BaseModel,
    make: MakeCommand,
    request: Request,
    runtime: RuntimeDep,
    user: Principal,
    idempotency_key: str | None,
) -> JSONResponse:
    """One officer's step: scoped to the officer's airports, one transaction, idempotent."""
    user.require(Role.CUSTOMS_OFFICER)
    command = make(user, datetime.now(UTC))
    handle = CaseWorkHandler(cases(runtime))
    metadata, check = command_metadata(user, request), officer_of(user, shipment_id)

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        worked = await handle(conn, shipment_id, command, metadata, check)
        return 200, ClearancePublic.of_view(worked).model_dump(mode="json")

    return await run_command(request, runtime, user, body, action, idempotency_key)


@router.post("/{shipment_id}/declaration", response_model=ClearancePublic)
async def lodge_declaration(
    shipment_id: UUID,
    body: DeclarationCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Lodge the VNACCS declaration (12 digits); a provisional one carries its completion
    deadline. It may be lodged before the goods arrive."""

    def make(who: Principal, now: datetime) -> domain.OfficerCommand:
        return domain.LodgeDeclaration(
            body.declaration_number,
            body.declaration_type,
            body.completion_deadline,
            body.exemption_basis,
            who.sub,
            now,
        )

    return await _work(shipment_id, body, make, request, runtime, user, idempotency_key)


@router.post("/{shipment_id}/documents", response_model=ClearancePublic)
async def record_document(
    shipment_id: UUID,
    body: DocumentCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record one document of the checklist as received, missing, or waived with a reason."""

    def make(who: Principal, now: datetime) -> domain.OfficerCommand:
        return domain.RecordDocument(body.document, body.status, body.reason, who.sub, now)

    return await _work(shipment_id, body, make, request, runtime, user, idempotency_key)


@router.post("/{shipment_id}/permits", response_model=ClearancePublic)
async def record_permit(
    shipment_id: UUID,
    body: PermitCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record another agency's permit: granted, deemed granted, or pending."""

    def make(who: Principal, now: datetime) -> domain.OfficerCommand:
        return domain.RecordPermit(body.agency, body.status, body.reference, who.sub, now)

    return await _work(shipment_id, body, make, request, runtime, user, idempotency_key)


@router.post("/{shipment_id}/lane", response_model=ClearancePublic)
async def assign_lane(
    shipment_id: UUID,
    body: LaneCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Assign the lane: green (release on documents), yellow (after the documents are
    checked), red (after a physical examination). Out of office hours is recorded."""

    def make(who: Principal, now: datetime) -> domain.OfficerCommand:
        return domain.AssignLane(body.lane, who.sub, now, office_hours().out_of_hours(now))

    return await _work(shipment_id, body, make, request, runtime, user, idempotency_key)


@router.post("/{shipment_id}/examination", response_model=ClearancePublic)
async def record_examination(
    shipment_id: UUID,
    body: ExaminationCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record the physical examination, at the airport or at the cold store."""

    def make(who: Principal, now: datetime) -> domain.OfficerCommand:
        return domain.RecordExamination(body.place, body.partial, body.findings, who.sub, now)

    return await _work(shipment_id, body, make, request, runtime, user, idempotency_key)


@router.post("/{shipment_id}/holds", response_model=ClearancePublic)
async def place_hold(
    shipment_id: UUID,
    body: HoldCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Hold the whole case (no lots) or units of some lots; the hold's id is ``H1``, ``H2``..."""

    def make(who: Principal, now: datetime) -> domain.OfficerCommand:
        lots = tuple(lot.held() for lot in body.lots)
        return domain.PlaceHold(body.reason, lots, body.note, who.sub, now)

    return await _work(shipment_id, body, make, request, runtime, user, idempotency_key)


@router.post("/{shipment_id}/holds/{hold_id}/release", response_model=ClearancePublic)
async def release_hold(
    shipment_id: UUID,
    hold_id: Annotated[str, Path(max_length=CODE_LENGTH)],
    body: HoldReleaseCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Lift a hold."""

    def make(who: Principal, now: datetime) -> domain.OfficerCommand:
        return domain.ReleaseHold(hold_id, body.note, who.sub, now)

    return await _work(shipment_id, body, make, request, runtime, user, idempotency_key)


@router.post("/{shipment_id}/release", response_model=ClearancePublic)
async def release_goods(
    shipment_id: UUID,
    body: ReleaseCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Release goods (``GoodsReleased``): units per lot (a partial release), or everything
    releasable now. Never more than is presented and neither held nor refused."""

    def make(who: Principal, now: datetime) -> domain.OfficerCommand:
        out = office_hours().out_of_hours(now)
        return domain.ReleaseGoods(body.chosen(), body.remarks, who.sub, now, out)

    return await _work(shipment_id, body, make, request, runtime, user, idempotency_key)


@router.post("/{shipment_id}/refusal", response_model=ClearancePublic)
async def refuse_goods(
    shipment_id: UUID,
    body: RefusalCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Refuse goods (``GoodsRefused``): re-export or destruction, with a reason."""

    def make(who: Principal, now: datetime) -> domain.OfficerCommand:
        return domain.RefuseGoods(body.chosen(), body.outcome, body.reason, who.sub, now)

    return await _work(shipment_id, body, make, request, runtime, user, idempotency_key)
