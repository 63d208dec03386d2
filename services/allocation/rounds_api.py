"""The Ministry's side of allocation: policies, rounds (draft, adjustment, approval,
amendment) and releases from the national reserve."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.allocation import domain, queries
from services.allocation.application import (
    ReleaseReserveHandler,
    RoundCommand,
    RoundHandler,
    allocations,
)
from services.allocation.commands import (
    NOTHING_RECEIVED,
    recipient_codes,
    recipient_facts,
    ultra_cold_codes,
)
from services.allocation.domain import RoundStatus
from services.allocation.policies import catalog
from services.allocation.policies.model import Policy
from services.allocation.queries import RoundView
from services.allocation.recipients import Recipient, recipients
from shared.auth import Principal, Role
from shared.contracts.allocation import QuantityChange
from shared.contracts.limits import MAX_LINES, REMARKS_LENGTH, FreeText, Quantity, Text
from shared.db import Conn
from shared.decider import NotFound
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.security import CurrentUser

router = APIRouter(prefix="/api/v1", tags=["rounds"])
RoundId = Annotated[str, Path(max_length=64, pattern="^[A-Za-z0-9-]+$")]
DecisionNumber = Annotated[Text, Field(min_length=1, max_length=64, examples=["3400/QĐ-BYT"])]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Change(_Body):
    line_no: int = Field(ge=1, le=MAX_LINES)
    recipient_code: str = Field(
        min_length=1, max_length=16, pattern="^[A-Za-z0-9]+$", description="or 'reserve'"
    )
    quantity: Quantity


class Adjustment(_Body):
    changes: tuple[Change, ...] = Field(min_length=1, max_length=MAX_LINES * 64)
    reason: FreeText = Field(min_length=1, max_length=REMARKS_LENGTH)


class Approval(_Body):
    decision_number: DecisionNumber
    decision_date: date


class Amendment(Adjustment):
    decision_number: DecisionNumber
    decision_date: date


class Redraft(_Body):
    policy_id: str = Field(max_length=64, pattern="^[a-z0-9-]+$")
    policy_version: int | None = Field(None, ge=1, description="the latest when left out")


class ReserveLine(_Body):
    line_no: int = Field(ge=1, le=MAX_LINES)
    quantity: int = Field(ge=1, le=10**9)


class ReserveRelease(_Body):
    shipment_id: UUID
    lines: tuple[ReserveLine, ...] = Field(min_length=1, max_length=MAX_LINES)
    policy_id: str = Field(catalog.DEFAULT_POLICY, max_length=64, pattern="^[a-z0-9-]+$")
    policy_version: int | None = Field(None, ge=1)


class RecipientPublic(BaseModel):
    code: str
    name_vi: str
    name_en: str
    kind: str
    population_scale: int
    ultra_cold: bool


class PolicyVersions(BaseModel):
    id: str
    latest: Policy
    versions: list[Policy]


def _readers(user: Principal) -> None:
    user.require(Role.ALLOCATION_OFFICER, Role.ALLOCATION_APPROVER, Role.NATIONAL_VIEWER)


@router.get("/recipients", response_model=list[RecipientPublic])
async def list_recipients(user: CurrentUser) -> list[Recipient]:
    """National recipients (fixed quotas) and the provinces, with ultra-cold capacity."""
    return list(recipients())


@router.get("/policies", response_model=list[Policy])
async def list_policies(user: CurrentUser) -> list[Policy]:
    """The latest version of every published policy."""
    return [found[-1] for found in catalog.catalog().values()]


@router.get("/policies/{policy_id}", response_model=PolicyVersions)
async def get_policy(
    policy_id: Annotated[str, Path(max_length=64, pattern="^[a-z0-9-]+$")], user: CurrentUser
) -> PolicyVersions:
    found = catalog.versions(policy_id)
    return PolicyVersions(id=policy_id, latest=found[-1], versions=list(found))


@router.get("/rounds", response_model=list[RoundView])
async def list_rounds(
    runtime: RuntimeDep,
    user: CurrentUser,
    status: RoundStatus | None = None,
    before: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern="^[A-Za-z0-9-]+$",
            description="the last round id of the previous page: the rounds decided before it",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[RoundView]:
    """The newest rounds, drafted or approved; older ones page by page with ``before``."""
    _readers(user)
    return await queries.latest_rounds(runtime.pool, limit, status, before)


@router.get("/rounds/{round_id}", response_model=RoundView)
async def get_round(round_id: RoundId, runtime: RuntimeDep, user: CurrentUser) -> RoundView:
    """A round by its id; a consignment's shipment id gives its first round."""
    _readers(user)
    try:
        shipment_id = UUID(round_id)
    except ValueError:
        return await queries.round_by_id(runtime.pool, round_id)
    return await queries.existing_round(runtime.pool, shipment_id)


async def _round_command(
    request: Request,
    runtime: RuntimeDep,
    user: Principal,
    body: BaseModel,
    command: RoundCommand,
    key: str | None,
) -> JSONResponse:
    handle = RoundHandler(allocations(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        view = await handle(conn, command, command_metadata(user, request))
        return 200, view.model_dump(mode="json")

    payload = {"round": command.round_id, **body.model_dump(mode="json")}
    return await run_command(request, runtime, user, payload, action, key)


def _changes(body: Adjustment) -> tuple[QuantityChange, ...]:
    return tuple(QuantityChange(**c.model_dump()) for c in body.changes)


@router.post("/rounds/{round_id}/adjustments", response_model=RoundView)
async def adjust(
    round_id: RoundId,
    body: Adjustment,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """An allocation officer moves quantities in a draft, with a reason (``RoundAdjusted``):
    per line, allocated + reserve stays equal to released."""
    user.require(Role.ALLOCATION_OFFICER)
    command = domain.AdjustRound(
        round_id,
        _changes(body),
        body.reason,
        user.sub,
        datetime.now(UTC),
        recipient_codes(),
        ultra_cold_codes(),
    )
    return await _round_command(request, runtime, user, body, command, idempotency_key)


@router.post("/rounds/{round_id}/redraft", response_model=RoundView)
async def redraft(
    round_id: RoundId,
    body: Redraft,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """An allocation officer drafts the round again under a policy they name (a new
    ``AllocationRoundDrafted`` for the same round); earlier adjustments are dropped."""
    user.require(Role.ALLOCATION_OFFICER)
    command = domain.RedraftRound(
        round_id=round_id,
        policy=catalog.policy(body.policy_id, body.policy_version),
        recipients=recipient_facts(),
        received=NOTHING_RECEIVED,
        by=user.sub,
        now=datetime.now(UTC),
    )
    return await _round_command(request, runtime, user, body, command, idempotency_key)


@router.post("/rounds/{round_id}/approve", response_model=RoundView)
async def approve(
    round_id: RoundId,
    body: Approval,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A Ministry approver signs the decision (``RoundApproved``), never one who drafted or
    adjusted it (four-eyes); the notices go out now (``AllocatedToProvince``)."""
    user.require(Role.ALLOCATION_APPROVER)
    command = domain.ApproveRound(
        round_id, body.decision_number, body.decision_date, user.sub, datetime.now(UTC)
    )
    return await _round_command(request, runtime, user, body, command, idempotency_key)


@router.post("/rounds/{round_id}/amendments", response_model=RoundView)
async def amend(
    round_id: RoundId,
    body: Amendment,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A new decision moves quantities of an approved round before dispatch
    (``RoundAmended``); the recipients concerned get ``NoticeAmended``."""
    user.require(Role.ALLOCATION_APPROVER)
    command = domain.AmendRound(
        round_id,
        body.decision_number,
        body.decision_date,
        _changes(body),
        body.reason,
        user.sub,
        datetime.now(UTC),
        recipient_codes(),
        ultra_cold_codes(),
    )
    return await _round_command(request, runtime, user, body, command, idempotency_key)


@router.post("/reserve/releases", response_model=RoundView, status_code=201)
async def release_reserve(
    body: ReserveRelease,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A draft round from a consignment's national reserve, first expiry first out; it is
    approved like any round."""
    user.require(Role.ALLOCATION_OFFICER)
    command = domain.ReleaseReserve(
        shipment_id=body.shipment_id,
        quantities={x.line_no: x.quantity for x in body.lines},
        policy=catalog.policy(body.policy_id, body.policy_version),
        recipients=recipient_facts(),
        received=NOTHING_RECEIVED,
        by=user.sub,
        now=datetime.now(UTC),
    )
    handle = ReleaseReserveHandler(allocations(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        view = await handle(conn, command, command_metadata(user, request))
        return 201, view.model_dump(mode="json")

    return await run_command(
        request, runtime, user, body.model_dump(mode="json"), action, idempotency_key
    )


@router.get("/reserve/{shipment_id}")
async def reserve_of(shipment_id: UUID, runtime: RuntimeDep, user: CurrentUser) -> dict[str, Any]:
    """The lots the national reserve holds of a consignment, per line, earliest expiry first."""
    _readers(user)
    state, _ = await allocations(runtime).load(runtime.pool, str(shipment_id))
    if state.shipment_id is None:
        raise NotFound(f"no allocation for consignment {shipment_id}", code="round-not-found")
    stock = domain.reserve_stock(state)
    return {
        "shipment_id": str(shipment_id),
        "holder": catalog.policy(catalog.DEFAULT_POLICY).reserve_holder,
        "lines": [
            {"line_no": n, "lots": [x.model_dump(mode="json") for x in lots]}
            for n, lots in stock.items()
        ],
    }
