"""Intake HTTP API: announce consignments, record arrivals, list and read them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake import domain, queries
from services.intake.application import (
    AnnounceShipmentHandler,
    RecordArrivalHandler,
    shipment_id_for,
    shipments,
)
from services.intake.domain import ShipmentStatus
from services.intake.queries import ShipmentView
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
from shared.http.commands import IdempotencyKey, command_metadata, run_command
from shared.http.deps import RuntimeDep
from shared.http.pagination import Page, decode_cursor, moment
from shared.http.security import CurrentUser
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
        )


class ArrivalCreate(Model):
    arrived_at: datetime = Field(description="not in the future, not more than a year ago")
    received: list[ReceivedLot] = Field(min_length=1, max_length=MAX_RECEIVED)
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)

    def to_command(self, now: datetime) -> domain.RecordArrival:
        return domain.RecordArrival(
            arrived_at=_utc(self.arrived_at),
            received=tuple(self.received),
            remarks=self.remarks,
            now=now,
        )


class ShipmentPublic(ShipmentView):
    """A consignment as the API shows it (the read model, named for the OpenAPI document)."""


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
    if body.airport.upper() in airports():
        user.require_scope(body.airport.upper(), "airport")
    command = body.to_command(datetime.now(UTC))
    handle = AnnounceShipmentHandler(shipments(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        announced = await handle(conn, command, command_metadata(user, request))
        return 201, announced.model_dump(mode="json")

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
    current = await queries.existing_shipment(runtime.pool, shipment_id)
    user.require_scope(current.airport, "airport")
    command = body.to_command(datetime.now(UTC))
    handle = RecordArrivalHandler(shipments(runtime))

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        arrived = await handle(conn, shipment_id, command, command_metadata(user, request))
        return 200, arrived.model_dump(mode="json")

    return await run_command(
        request, runtime, user, body.model_dump(mode="json"), action, idempotency_key
    )


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
    user.require(Role.INTAKE_OFFICER, Role.NATIONAL_VIEWER)
    airports_seen = user.visible(airport.upper() if airport else None)
    after = decode_cursor(cursor, moment, UUID)
    sort_key = (after[0], after[1]) if after else None
    return await queries.shipments_page(runtime.pool, airports_seen, status, sort_key, limit)


@router.get("/{shipment_id}", response_model=ShipmentPublic)
async def get_shipment(shipment_id: UUID, runtime: RuntimeDep, user: CurrentUser) -> ShipmentView:
    user.require(Role.INTAKE_OFFICER, Role.NATIONAL_VIEWER)
    shipment = await queries.existing_shipment(runtime.pool, shipment_id)
    user.require_scope(shipment.airport, "airport")
    return shipment
