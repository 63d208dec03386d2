"""Customs HTTP API: the clearance queue, a case and its history, and the officers' steps:
declaration, documents, permits, lane, examination, holds, release (normal or partial),
refusal, and the fast-track release."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Self
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.customs import domain, queries
from services.customs.application import CaseWorkHandler, FastTrackHandler, cases
from services.customs.domain import CaseStatus
from services.customs.office import office_hours
from services.customs.queries import CaseView, Clock, HistoryEntry
from shared.auth import Principal, Role
from shared.contracts.customs import (
    DeclarationType,
    Document,
    DocumentStatus,
    Examination,
    ExaminationPlace,
    HeldLot,
    HoldReason,
    Lane,
    PermitStatus,
    RefusalOutcome,
)
from shared.contracts.limits import (
    CODE_LENGTH,
    MAX_LINES,
    MAX_RECEIVED,
    NAME_LENGTH,
    REMARKS_LENGTH,
    Code,
    FreeText,
    Text,
)
from shared.db import Conn
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.pagination import Page, decode_cursor, moment
from shared.http.security import CurrentUser

router = APIRouter(prefix="/api/v1/clearances", tags=["clearances"])


class FastTrackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    declaration_number: Code = Field(
        min_length=1, max_length=CODE_LENGTH, examples=["104123456789"]
    )
    lane: Lane = Lane.GREEN
    examination: Examination = Examination.NONE
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)

    def to_command(self, now: datetime) -> domain.ClearFastTrack:
        return domain.ClearFastTrack(
            declaration_number=self.declaration_number,
            lane=self.lane,
            examination=self.examination,
            remarks=self.remarks,
            now=now,
        )


class ClearancePublic(CaseView):
    """A clearance case as the API shows it (the read model, named for the OpenAPI document),
    with its clock: time since arrival against the clearance target."""

    clock: Clock | None = None

    @classmethod
    def of_view(cls, case: CaseView) -> ClearancePublic:
        clock = case.clock_at(datetime.now(UTC), office_hours())
        return cls.model_validate(case.model_dump() | {"clock": clock})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DeclarationCreate(Strict):
    declaration_number: Code = Field(pattern=r"^[0-9]{12}$", examples=["104123456789"])
    declaration_type: DeclarationType
    completion_deadline: date | None = Field(
        None, description="required for a provisional declaration, refused otherwise"
    )
    exemption_basis: Text = Field("", max_length=NAME_LENGTH, examples=["Resolution 106/NQ-CP"])


class DocumentCreate(Strict):
    document: Document
    status: DocumentStatus
    reason: FreeText = Field("", max_length=REMARKS_LENGTH, description="required when waived")


class PermitCreate(Strict):
    agency: Text = Field(min_length=1, max_length=NAME_LENGTH, examples=["Drug Administration"])
    status: PermitStatus
    reference: Code = Field("", max_length=CODE_LENGTH)


class LaneCreate(Strict):
    lane: Lane


class ExaminationCreate(Strict):
    place: ExaminationPlace
    partial: bool = False
    findings: FreeText = Field("", max_length=REMARKS_LENGTH)


class LotQuantity(Strict):
    line_no: int = Field(ge=1, le=MAX_LINES)
    lot_number: Code = Field(
        "", max_length=CODE_LENGTH, description="empty for a line without lots"
    )
    quantity: int = Field(ge=1, le=10**9)

    def held(self) -> HeldLot:
        return HeldLot(line_no=self.line_no, lot_number=self.lot_number, quantity=self.quantity)


class HoldCreate(Strict):
    reason: HoldReason
    lots: list[LotQuantity] = Field(
        [], max_length=MAX_RECEIVED, description="empty: the hold covers the whole case"
    )
    note: FreeText = Field("", max_length=REMARKS_LENGTH)


class HoldReleaseCreate(Strict):
    note: FreeText = Field("", max_length=REMARKS_LENGTH)


class Quantities(Strict):
    """Either ``lots`` with quantities, or ``everything`` (all that is releasable/refusable)."""

    lots: list[LotQuantity] | None = Field(None, min_length=1, max_length=MAX_RECEIVED)
    everything: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.lots is None) != self.everything:
            raise ValueError("give either lots with quantities or everything: true")
        return self

    def chosen(self) -> tuple[HeldLot, ...] | None:
        return None if self.lots is None else tuple(lot.held() for lot in self.lots)


class ReleaseCreate(Quantities):
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)


class RefusalCreate(Quantities):
    outcome: RefusalOutcome
    reason: FreeText = Field(min_length=1, max_length=REMARKS_LENGTH)


@router.get("", response_model=Page[ClearancePublic])
async def queue(
    runtime: RuntimeDep,
    user: CurrentUser,
    status: CaseStatus | None = None,
    airport: Annotated[str | None, Query(pattern="^[A-Za-z]{3}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Page[CaseView]:
    """The clearance queue, oldest first; an officer sees the airports of its scope."""
    user.require(Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
    seen = user.visible(airport.upper() if airport else None)
    after = decode_cursor(cursor, moment, UUID)
    sort_key = (after[0], after[1]) if after else None
    page = await queries.cases_page(runtime.pool, seen, status, sort_key, limit)
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
    case = await queries.existing_case(runtime.pool, shipment_id)
    user.require_scope(case.airport, "airport")
    command = body.to_command(datetime.now(UTC))
    handle = FastTrackHandler(cases(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        cleared = await handle(conn, shipment_id, command, command_metadata(user, request))
        return 200, ClearancePublic.of_view(cleared).model_dump(mode="json")

    return await run_command(
        request, runtime, user, body.model_dump(mode="json"), action, idempotency_key
    )


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
    case = await queries.existing_case(runtime.pool, shipment_id)
    user.require_scope(case.airport, "airport")
    command = make(user, datetime.now(UTC))
    handle = CaseWorkHandler(cases(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        worked = await handle(conn, shipment_id, command, command_metadata(user, request))
        return 200, ClearancePublic.of_view(worked).model_dump(mode="json")

    return await run_command(
        request, runtime, user, body.model_dump(mode="json"), action, idempotency_key
    )


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
    hold_id: Annotated[str, Path(pattern=r"^H[0-9]{1,4}$")],
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
