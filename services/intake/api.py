"""Intake HTTP API: announce consignments, record arrivals, list and read them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.intake import domain, queries
from services.intake.api_models import (
    FLIGHT_PATTERN,
    CancelCreate,
    CloseCreate,
    InspectionCreate,
    Model,
    ReportCreate,
    utc,
)
from services.intake.application import (
    AnnounceShipmentHandler,
    RecordArrivalHandler,
    ShipmentCommandHandler,
    shipment_id_for,
    shipments,
)
from services.intake.config import shelf_life_policy
from services.intake.domain import ShipmentStatus
from services.intake.queries import HistoryEntry, ShipmentDetail, ShipmentView
from shared.auth import Principal, Role
from shared.contracts.limits import (
    CODE_LENGTH,
    MAX_LINES,
    MAX_LOTS,
    MAX_LOTS_PER_LINE,
    MAX_RECEIVED,
    NAME_LENGTH,
    REMARKS_LENGTH,
    Code,
    FreeText,
    PackSize,
    Quantity,
    Text,
)
from shared.contracts.values import (
    Category,
    Channel,
    LineItem,
    Lot,
    Priority,
    ReceivedLot,
    Storage,
    Unit,
)
from shared.db import Conn
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.pagination import Page, decode_cursor, moment
from shared.http.security import CurrentUser
from shared.reference_data import airports
from shared.runtime import Runtime

router = APIRouter(prefix="/api/v1/shipments", tags=["shipments"])
OFFICERS = (Role.INTAKE_OFFICER, Role.INTAKE_SUPERVISOR)
READERS = (*OFFICERS, Role.NATIONAL_VIEWER)


class LotIn(Model):
    lot_number: Code = Field(min_length=1, max_length=CODE_LENGTH, examples=["ABV5300"])
    expiry_date: date = Field(description="within 10 years from today, and not past")
    quantity: Quantity


class LineItemIn(Model):
    product: Text = Field(
        min_length=1, max_length=NAME_LENGTH, examples=["Vaxzevria (AstraZeneca)"]
    )
    category: Category
    unit: Unit
    pack_size: PackSize
    quantity: Quantity
    storage: Storage
    lots: list[LotIn] = Field(
        default_factory=list,
        max_length=MAX_LOTS_PER_LINE,
        description=f"at most {MAX_LOTS} lots in the whole consignment",
    )


class ShipmentCreate(Model):
    donor: Text = Field(min_length=1, max_length=NAME_LENGTH, examples=["COVAX"])
    channel: Channel
    airport: str = Field(pattern="^[A-Za-z]{3}$", examples=["HAN"])
    flight: str = Field(pattern=FLIGHT_PATTERN, examples=["VN0317"])
    airway_bill: str = Field(
        pattern=f"^[A-Za-z0-9][A-Za-z0-9 -]{{1,{CODE_LENGTH - 2}}}[A-Za-z0-9]$",
        examples=["738-12345675"],
    )
    expected_arrival: datetime = Field(description="within a year of now, either side")
    consignee: Text = Field(min_length=1, max_length=NAME_LENGTH, examples=["NIHE / National EPI"])
    lines: list[LineItemIn] = Field(min_length=1, max_length=MAX_LINES)
    priority: Priority = Field(
        Priority.ROUTINE, description="a policy may approve emergency rounds automatically"
    )

    def to_command(self, now: datetime) -> domain.AnnounceShipment:
        airport = self.airport.upper()
        return domain.AnnounceShipment(
            shipment_id=shipment_id_for(airport, self.airway_bill),
            donor=self.donor,
            channel=self.channel,
            airport=airport,
            flight=self.flight.upper(),
            airway_bill=self.airway_bill,
            expected_arrival=_utc(self.expected_arrival),
            consignee=self.consignee,
            lines=_lines(self),
            now=now,
            priority=self.priority,
        )


class ArrivalCreate(Model):
    arrived_at: datetime = Field(description="not in the future, not more than a year ago")
    received: list[ReceivedLot] = Field(min_length=1, max_length=MAX_RECEIVED)
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)

    def to_command(self, now: datetime, user: Principal) -> domain.RecordArrival:
        return domain.RecordArrival(
            arrived_at=_utc(self.arrived_at),
            received=tuple(self.received),
            remarks=self.remarks,
            now=now,
            recorded_by=user.sub,
            policy=shelf_life_policy(),
        )


class AmendmentCreate(Model):
    """The announcement as it now stands (airport and airway bill stay), and why."""

    reason: FreeText = Field(min_length=1, max_length=REMARKS_LENGTH)
    donor: Text = Field(min_length=1, max_length=NAME_LENGTH, examples=["COVAX"])
    channel: Channel
    flight: str = Field(pattern=FLIGHT_PATTERN, examples=["VN0317"])
    expected_arrival: datetime = Field(description="within a year of now, either side")
    consignee: Text = Field(min_length=1, max_length=NAME_LENGTH, examples=["NIHE / National EPI"])
    lines: list[LineItemIn] = Field(min_length=1, max_length=MAX_LINES)
    priority: Priority | None = Field(None, description="omitted: the priority stays")

    def to_command(self, now: datetime, user: Principal) -> domain.AmendShipment:
        return domain.AmendShipment(
            reason=self.reason,
            amended_by=user.sub,
            donor=self.donor,
            channel=self.channel,
            flight=self.flight.upper(),
            expected_arrival=_utc(self.expected_arrival),
            consignee=self.consignee,
            lines=_lines(self),
            now=now,
            priority=self.priority,
        )


class ShipmentPublic(ShipmentView):
    """A consignment as the API shows it (the read model, named for the OpenAPI document)."""


class ShipmentDetailPublic(ShipmentDetail):
    """A consignment with its arrival parts and VARs."""


_utc = utc


def _lines(body: ShipmentCreate | AmendmentCreate) -> tuple[LineItem, ...]:
    return tuple(
        LineItem(
            line_no=number,
            lots=tuple(Lot(**lot.model_dump()) for lot in line.lots),
            **line.model_dump(exclude={"lots"}),
        )
        for number, line in enumerate(body.lines, start=1)
    )


@router.post("", status_code=201, response_model=ShipmentPublic)
async def announce(
    body: ShipmentCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Announce an expected consignment (``ShipmentAnnounced``)."""
    user.require(*OFFICERS)
    if body.airport.upper() in airports():
        user.require_scope(body.airport.upper(), "airport")
    command = body.to_command(datetime.now(UTC))
    handle = AnnounceShipmentHandler(shipments(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        announced = await handle(conn, command, command_metadata(user, request))
        return 201, announced.model_dump(mode="json")

    return await run_command(request, runtime, user, body, action, idempotency_key)


@router.post("/{shipment_id}/arrival", response_model=ShipmentDetailPublic)
async def record_arrival(
    shipment_id: UUID,
    body: ArrivalCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record a one-shot arrival: part 1, fully counted, and the consignment closed
    (``ShipmentArrived`` v2 and ``ShipmentClosed``). Lots expired on the arrival day or short
    of shelf life are rejected; use ``/inspection`` for anything else."""
    await _officer_of(shipment_id, runtime, user)
    command = body.to_command(datetime.now(UTC), user)
    return await _run(request, runtime, user, body, idempotency_key, shipment_id, command)


@router.get("", response_model=Page[ShipmentPublic])
async def list_shipments(
    runtime: RuntimeDep,
    user: CurrentUser,
    airport: Annotated[str | None, Query(pattern="^[A-Za-z]{3}$")] = None,
    status: ShipmentStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Page[ShipmentView]:
    """Consignments, newest first; an officer sees the airports of its scope."""
    user.require(*READERS)
    airports_seen = user.visible(airport.upper() if airport else None)
    after = decode_cursor(cursor, moment, UUID)
    sort_key = (after[0], after[1]) if after else None
    return await queries.shipments_page(runtime.pool, airports_seen, status, sort_key, limit)


@router.get("/{shipment_id}", response_model=ShipmentDetailPublic)
async def get_shipment(shipment_id: UUID, runtime: RuntimeDep, user: CurrentUser) -> ShipmentDetail:
    """A consignment with its arrival parts (lots counted, rejections, discrepancies)."""
    user.require(*READERS)
    shipment = await queries.shipment_detail(runtime.pool, shipment_id)
    user.require_scope(shipment.airport, "airport")
    return shipment


@router.get("/{shipment_id}/history", response_model=list[HistoryEntry])
async def shipment_history(
    shipment_id: UUID, runtime: RuntimeDep, user: CurrentUser
) -> list[HistoryEntry]:
    """Who changed what and when: every recorded event of the consignment, in order."""
    user.require(*READERS)
    shipment = await queries.existing_shipment(runtime.pool, shipment_id)
    user.require_scope(shipment.airport, "airport")
    return await queries.history(runtime.pool, shipment_id)


# --- commands on an announced consignment -----------------------------------------------------


@router.post("/{shipment_id}/inspection", response_model=ShipmentDetailPublic)
async def record_inspection(
    shipment_id: UUID,
    body: InspectionCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record one arrival part (a flight) counted lot by lot, with its rejections,
    discrepancies and, if ready, the VAR of each vaccine line (``ShipmentArrived`` v2,
    ``ArrivalReportFiled``). Only an intake supervisor may accept a lot flagged short shelf
    life."""
    await _officer_of(shipment_id, runtime, user)
    command = body.to_command(datetime.now(UTC), user)
    return await _run(request, runtime, user, body, idempotency_key, shipment_id, command)


@router.post("/{shipment_id}/arrival-reports", response_model=ShipmentDetailPublic)
async def file_arrival_report(
    shipment_id: UUID,
    body: ReportCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """File the VAR of one vaccine line of an arrival part (due within 3 days of it)."""
    await _officer_of(shipment_id, runtime, user)
    command = body.to_command(datetime.now(UTC), user)
    return await _run(request, runtime, user, body, idempotency_key, shipment_id, command)


@router.post("/{shipment_id}/amendments", response_model=ShipmentDetailPublic)
async def amend_shipment(
    shipment_id: UUID,
    body: AmendmentCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Correct the announcement before anything arrives (``ShipmentAmended``)."""
    await _officer_of(shipment_id, runtime, user)
    command = body.to_command(datetime.now(UTC), user)
    return await _run(request, runtime, user, body, idempotency_key, shipment_id, command)


@router.post("/{shipment_id}/cancel", response_model=ShipmentDetailPublic)
async def cancel_shipment(
    shipment_id: UUID,
    body: CancelCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Cancel the consignment before anything arrives (``ShipmentCancelled``)."""
    await _officer_of(shipment_id, runtime, user)
    command = body.to_command(datetime.now(UTC), user)
    return await _run(request, runtime, user, body, idempotency_key, shipment_id, command)


@router.post("/{shipment_id}/close", response_model=ShipmentDetailPublic)
async def close_shipment(
    shipment_id: UUID,
    body: CloseCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Every part is in: close the consignment (``ShipmentClosed``). What was accepted goes
    on to clearance; nothing accepted closes it with nothing to clear."""
    await _officer_of(shipment_id, runtime, user)
    command = body.to_command(datetime.now(UTC), user)
    return await _run(request, runtime, user, body, idempotency_key, shipment_id, command)


async def _officer_of(shipment_id: UUID, runtime: Runtime, user: Principal) -> None:
    """An intake officer or supervisor of the consignment's airport."""
    user.require(*OFFICERS)
    current = await queries.existing_shipment(runtime.pool, shipment_id)
    user.require_scope(current.airport, "airport")


async def _run(
    request: Request,
    runtime: Runtime,
    user: Principal,
    body: BaseModel,
    idempotency_key: str | None,
    shipment_id: UUID,
    command: domain.Command,
) -> JSONResponse:
    handle = ShipmentCommandHandler[domain.Command](shipments(runtime))
    if isinstance(command, domain.RecordArrival):
        handle = RecordArrivalHandler(shipments(runtime))  # type: ignore[assignment]

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        detail = await handle(conn, shipment_id, command, command_metadata(user, request))
        return 200, detail.model_dump(mode="json")

    return await run_command(request, runtime, user, body, action, idempotency_key)
