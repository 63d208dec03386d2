"""Intake HTTP API: announce consignments, record arrivals, list and read them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake import domain
from services.intake.application import shipment_id_for, shipments
from shared.auth import Role
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
from shared.contracts.values import Category, Channel, LineItem, Lot, ReceivedLot, Storage, Unit
from shared.db import Conn
from shared.decider import NotFound
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.pagination import Page, decode_cursor, moment, page_of
from shared.http.security import CurrentUser
from shared.observability import observe_lead_time
from shared.reference_data import airports

router = APIRouter(prefix="/api/v1/shipments", tags=["shipments"])


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
    flight: str = Field(pattern="^[A-Za-z0-9]{2,16}$", examples=["VN0317"])
    airway_bill: str = Field(
        pattern=f"^[A-Za-z0-9][A-Za-z0-9 -]{{1,{CODE_LENGTH - 2}}}[A-Za-z0-9]$",
        examples=["738-12345675"],
    )
    expected_arrival: datetime = Field(description="within a year of now, either side")
    consignee: Text = Field(min_length=1, max_length=NAME_LENGTH, examples=["NIHE / National EPI"])
    lines: list[LineItemIn] = Field(min_length=1, max_length=MAX_LINES)


class ArrivalCreate(Model):
    arrived_at: datetime = Field(description="not in the future, not more than a year ago")
    received: list[ReceivedLot] = Field(min_length=1, max_length=MAX_RECEIVED)
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)


class ShipmentPublic(BaseModel):
    shipment_id: UUID
    donor: str
    channel: str
    airport: str
    flight: str
    airway_bill: str
    expected_arrival: datetime
    consignee: str
    status: str
    lines: list[dict[str, Any]]
    received: list[dict[str, Any]] | None
    remarks: str | None
    announced_at: datetime
    announced_by: str | None
    arrived_at: datetime | None


def _utc(moment: datetime) -> datetime:
    """Times without a zone are taken as UTC, so that the domain compares like with like."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _lines(body: ShipmentCreate) -> tuple[LineItem, ...]:
    return tuple(
        LineItem(
            line_no=number,
            lots=tuple(Lot(**lot.model_dump()) for lot in line.lots),
            **line.model_dump(exclude={"lots"}),
        )
        for number, line in enumerate(body.lines, start=1)
    )


async def _shipment(conn: Conn | asyncpg.Pool, shipment_id: UUID) -> dict[str, Any]:
    row = await conn.fetchrow("SELECT * FROM shipments WHERE shipment_id = $1", shipment_id)
    if row is None:
        raise NotFound(f"no shipment {shipment_id}", code="shipment-not-found")
    return _public(row)


def _public(row: Any) -> dict[str, Any]:
    data = dict(row)
    data.pop("last_position", None)
    return ShipmentPublic.model_validate(data).model_dump(mode="json")


@router.post("", status_code=201, response_model=ShipmentPublic)
async def announce(
    body: ShipmentCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Announce an expected consignment (``ShipmentAnnounced``)."""
    user.require(Role.INTAKE_OFFICER)
    airport = body.airport.upper()
    if airport in airports():
        user.require_scope(airport, "airport")
    shipment_id = shipment_id_for(airport, body.airway_bill)
    command = domain.AnnounceShipment(
        shipment_id=shipment_id,
        donor=body.donor,
        channel=body.channel,
        airport=airport,
        flight=body.flight.upper(),
        airway_bill=body.airway_bill,
        expected_arrival=_utc(body.expected_arrival),
        consignee=body.consignee,
        lines=_lines(body),
        now=datetime.now(UTC),
    )

    async def action(conn: Conn) -> tuple[int, Any]:
        await shipments(runtime).handle(
            conn, str(shipment_id), command, command_metadata(user, request)
        )
        return 201, await _shipment(conn, shipment_id)

    return await run_command(
        request, runtime, user, body.model_dump(mode="json"), action, idempotency_key
    )


@router.post("/{shipment_id}/arrival", response_model=ShipmentPublic)
async def record_arrival(
    shipment_id: UUID,
    body: ArrivalCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record the actual arrival and the quantities received per lot (``ShipmentArrived``)."""
    user.require(Role.INTAKE_OFFICER)
    current = await _shipment(runtime.pool, shipment_id)
    user.require_scope(current["airport"], "airport")
    command = domain.RecordArrival(
        arrived_at=_utc(body.arrived_at),
        received=tuple(body.received),
        remarks=body.remarks,
        now=datetime.now(UTC),
    )

    async def action(conn: Conn) -> tuple[int, Any]:
        await shipments(runtime).handle(
            conn, str(shipment_id), command, command_metadata(user, request)
        )
        shipment = await _shipment(conn, shipment_id)
        observe_lead_time("announced_to_arrived", shipment["announced_at"], _utc(body.arrived_at))
        return 200, shipment

    return await run_command(
        request, runtime, user, body.model_dump(mode="json"), action, idempotency_key
    )


@router.get("", response_model=Page[ShipmentPublic])
async def list_shipments(
    runtime: RuntimeDep,
    user: CurrentUser,
    airport: Annotated[str | None, Query(pattern="^[A-Za-z]{3}$")] = None,
    status: Annotated[str | None, Query(pattern="^(announced|arrived)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> dict[str, Any]:
    """Consignments, newest first; an officer sees the airports of its scope."""
    user.require(Role.INTAKE_OFFICER, Role.NATIONAL_VIEWER)
    airports_seen = user.visible(airport.upper() if airport else None)
    after = decode_cursor(cursor, moment, UUID)
    rows = await runtime.pool.fetch(
        """SELECT * FROM shipments
           WHERE ($1::text[] IS NULL OR airport = ANY($1))
             AND ($2::text IS NULL OR status = $2)
             AND ($3::timestamptz IS NULL OR (announced_at, shipment_id) < ($3, $4::uuid))
           ORDER BY announced_at DESC, shipment_id DESC LIMIT $5""",
        airports_seen,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit + 1,
    )
    return page_of(rows, limit, _public, "announced_at", "shipment_id")


@router.get("/{shipment_id}", response_model=ShipmentPublic)
async def get_shipment(shipment_id: UUID, runtime: RuntimeDep, user: CurrentUser) -> Any:
    user.require(Role.INTAKE_OFFICER, Role.NATIONAL_VIEWER)
    shipment = await _shipment(runtime.pool, shipment_id)
    user.require_scope(shipment["airport"], "airport")
    return shipment
