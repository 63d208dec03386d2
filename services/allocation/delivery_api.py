"""Dispatch and receipt of a notice, and the national list of discrepancies."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.allocation import queries
from services.allocation.api import (
    NoticeNumber,
    NoticePublic,
    RecipientCode,
    every_recipient,
    known_recipient,
)
from services.allocation.application import allocations
from services.allocation.delivery import DispatchHandler, ReceiptHandler
from services.allocation.domain.notices import RECEIPT_REASONS, DispatchNotice, ReceiveNotice
from services.allocation.queries import LeadTimes, NoticeInInbox, NoticeView
from shared.auth import Role
from shared.contracts.limits import (
    CODE_LENGTH,
    MAX_LOTS_PER_LINE,
    MAX_QUANTITY,
    NAME_LENGTH,
    Code,
    Quantity,
    Text,
)
from shared.contracts.values import CountedLot, Lot, Rejection, RejectionReason
from shared.db import Conn
from shared.decider import InvalidInput
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.pagination import Page, decode_cursor, position
from shared.http.security import CurrentUser

router = APIRouter(prefix="/api/v1", tags=["delivery"])
delivery_routes = APIRouter()
CLOCK_SKEW = timedelta(minutes=5)
PAST_WINDOW = timedelta(days=90)
NATIONAL = (
    Role.ALLOCATION_OFFICER,
    Role.ALLOCATION_APPROVER,
    Role.STORE_OFFICER,
    Role.NATIONAL_VIEWER,
)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DispatchedLot(Model):
    lot_number: Code = Field(min_length=1, max_length=CODE_LENGTH)
    expiry_date: date | None = Field(None, description="default: the notice's lot's expiry")
    quantity: Quantity


class DispatchCreate(Model):
    carrier: Text = Field(
        min_length=1, max_length=NAME_LENGTH, examples=["Vietnam Post cold truck"]
    )
    lots: list[DispatchedLot] = Field(
        default_factory=list,
        max_length=MAX_LOTS_PER_LINE,
        description="lots and quantities sent; empty: the notice's lots as allocated (or amended)",
    )
    dispatched_at: datetime | None = Field(None, description="default: now; never in the future")


class RejectionIn(Model):
    reason: RejectionReason = Field(description="short, damaged or temperature_excursion")
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    note: Text = Field("", max_length=NAME_LENGTH)


class ReceivedLotIn(Model):
    lot_number: Code = Field(min_length=1, max_length=CODE_LENGTH)
    counted: Quantity = Field(description="what was dispatched of this lot")
    accepted: Quantity
    rejections: list[RejectionIn] = Field(
        default_factory=list,
        max_length=len(RECEIPT_REASONS),
        description="what was not accepted, one line per reason (e.g. 10 short and 5 damaged)",
    )

    @model_validator(mode="after")
    def _adds_up(self) -> ReceivedLotIn:
        rejected = sum(r.quantity for r in self.rejections)
        if self.accepted + rejected != self.counted:
            raise ValueError(
                f"accepted {self.accepted} + rejected {rejected} must equal counted {self.counted}"
            )
        return self


class ReceiptCreate(Model):
    lots: list[ReceivedLotIn] = Field(min_length=1, max_length=MAX_LOTS_PER_LINE)
    received_at: datetime | None = Field(None, description="default: now; never in the future")


class DiscrepancyPage(Page[NoticePublic]):
    """Receipts with discrepancies."""


def _moment(value: datetime | None, field: str) -> datetime:
    """Now, or a recorded time: with a zone, not in the future, within the last 90 days."""
    now = datetime.now(UTC)
    if value is None:
        return now
    if value.utcoffset() is None:
        raise InvalidInput("give a time zone (e.g. +07:00)", field=field, code="naive-time")
    try:
        ahead = value - now
    except OverflowError:
        ahead = timedelta.max if value.year > now.year else timedelta.min
    if ahead > CLOCK_SKEW:
        raise InvalidInput("this time is in the future", field=field, code="future-time")
    if ahead < -PAST_WINDOW:
        raise InvalidInput(
            f"more than {PAST_WINDOW.days} days ago", field=field, code="implausible-date"
        )
    return value.astimezone(UTC)


async def _lots_of(conn: Conn, code: str, number: str, body: DispatchCreate) -> tuple[Lot, ...]:
    """Dispatched lots take their expiry from the notice's lots when not given."""
    notice = await queries.existing_notice(conn, code, number)
    expiries = {lot["lot_number"]: lot["expiry_date"] for lot in notice.lots}
    lots = []
    for index, lot in enumerate(body.lots):
        expiry = lot.expiry_date or expiries.get(lot.lot_number)
        if expiry is None:
            raise InvalidInput(
                f"lot {lot.lot_number} is not on the notice: give its expiry_date",
                field=f"lots/{index}/expiry_date",
                code="expiry-required",
            )
        lots.append(Lot(lot_number=lot.lot_number, expiry_date=expiry, quantity=lot.quantity))
    return tuple(lots)


@delivery_routes.post("/notices/{number}/dispatch", response_model=NoticePublic)
async def dispatch(
    code: RecipientCode,
    number: NoticeNumber,
    body: DispatchCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The national store sent the notice's goods (``NoticeDispatched``); 409 when it was
    already dispatched or withdrawn."""
    known_recipient(code)
    user.require(Role.STORE_OFFICER)
    when = _moment(body.dispatched_at, "dispatched_at")
    handle = DispatchHandler(allocations(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        command = DispatchNotice(
            notice_number=number,
            province_code=code,
            lots=await _lots_of(conn, code, number, body),
            carrier=body.carrier,
            dispatched_by=user.sub,
            now=when,
        )
        dispatched = await handle(conn, command, command_metadata(user, request))
        return 200, _public(dispatched)

    payload = {"notice": number, **body.model_dump(mode="json")}
    return await run_command(request, runtime, user, payload, action, idempotency_key)


@delivery_routes.post("/notices/{number}/receipt", response_model=NoticePublic)
async def receipt(
    code: RecipientCode,
    number: NoticeNumber,
    body: ReceiptCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The recipient's proof of delivery, per lot (``NoticeReceived``); 409 before dispatch
    or when already received."""
    known_recipient(code)
    user.require(Role.PROVINCE_OFFICER)
    user.require_scope(code, "recipient")
    when = _moment(body.received_at, "received_at")
    handle = ReceiptHandler(allocations(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        notice = await queries.existing_notice(conn, code, number)
        command = ReceiveNotice(
            notice_number=number,
            province_code=code,
            lots=tuple(_counted(notice, lot) for lot in body.lots),
            received_by=user.sub,
            now=when,
        )
        received = await handle(conn, command, command_metadata(user, request))
        return 200, _public(received)

    payload = {"notice": number, **body.model_dump(mode="json")}
    return await run_command(request, runtime, user, payload, action, idempotency_key)


def _counted(notice: NoticeView, lot: ReceivedLotIn) -> CountedLot:
    return CountedLot(
        line_no=notice.line_no,
        lot_number=lot.lot_number,
        counted=lot.counted,
        accepted=lot.accepted,
        rejections=tuple(
            Rejection(reason=r.reason, quantity=r.quantity, note=r.note) for r in lot.rejections
        ),
    )


def _public(notice: NoticeView) -> dict[str, Any]:
    return NoticePublic.model_validate(notice.model_dump()).model_dump(mode="json")


@router.get("/discrepancies", response_model=DiscrepancyPage)
async def discrepancies(
    runtime: RuntimeDep,
    user: CurrentUser,
    province: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Page[NoticeInInbox]:
    """Receipts with discrepancies across the country, newest first (national roles)."""
    user.require(
        Role.ALLOCATION_OFFICER, Role.ALLOCATION_APPROVER, Role.STORE_OFFICER, Role.NATIONAL_VIEWER
    )
    after = decode_cursor(cursor, position)
    return await queries.discrepancies_page(
        runtime.pool, province, after[0] if after else None, limit
    )


@router.get("/lead-times", response_model=LeadTimes)
async def lead_times(runtime: RuntimeDep, user: CurrentUser) -> LeadTimes:
    """Release to receipt against the 7-day target of 2021, over every received notice."""
    user.require(
        Role.ALLOCATION_OFFICER, Role.ALLOCATION_APPROVER, Role.STORE_OFFICER, Role.NATIONAL_VIEWER
    )
    return await queries.lead_times(runtime.pool)


router.include_router(every_recipient(delivery_routes))
