"""Intake use cases: one aggregate per consignment, keyed by its airway bill.

Each handler runs one command inside the caller's unit of work (a transaction on ``conn``,
opened by the HTTP adapter or a test with ``shared.application.in_transaction``) and
answers with the consignment as the read model shows it after the command.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Generic, TypeVar

from services.intake import domain, queries
from services.intake.projections import ArrivalPartsProjection, ShipmentsProjection
from services.intake.queries import ShipmentDetail, ShipmentView
from shared.application import CommandHandler
from shared.contracts.base import JsonDict
from shared.db import Conn
from shared.eventstore import EventStore
from shared.observability import observe_lead_time
from shared.runtime import Runtime

C = TypeVar("C", bound=domain.Command)

PROJECTIONS = (ShipmentsProjection(), ArrivalPartsProjection())
_SHIPMENT_NAMESPACE = uuid.UUID("5b1f0c1e-7a52-4f0e-9d53-1d6c2f3a9e10")

Shipments = CommandHandler[domain.Shipment, domain.Command]


def shipment_id_for(airport: str, airway_bill: str) -> uuid.UUID:
    """One consignment per airway bill: announcing the same bill again is the same shipment."""
    normalised = "".join(ch for ch in airway_bill.upper() if ch.isalnum())
    return uuid.uuid5(_SHIPMENT_NAMESPACE, f"{airport.upper()}/{normalised}")


def shipments(runtime: Runtime) -> Shipments:
    return shipments_in(runtime.store)


def shipments_in(store: EventStore) -> Shipments:
    return CommandHandler(store, domain.decider, PROJECTIONS)


@dataclass(frozen=True)
class AnnounceShipmentHandler:
    shipments: Shipments

    async def __call__(
        self, conn: Conn, command: domain.AnnounceShipment, metadata: JsonDict
    ) -> ShipmentView:
        await self.shipments.start(conn, str(command.shipment_id), command, metadata)
        return await queries.existing_shipment(conn, command.shipment_id)


@dataclass(frozen=True)
class RecordArrivalHandler:
    """The one-shot arrival: part 1, fully counted, and the consignment closed."""

    shipments: Shipments

    async def __call__(
        self, conn: Conn, shipment_id: uuid.UUID, command: domain.RecordArrival, metadata: JsonDict
    ) -> ShipmentDetail:
        await self.shipments.handle(conn, str(shipment_id), command, metadata)
        arrived = await queries.shipment_detail(conn, shipment_id)
        observe_lead_time("announced_to_arrived", arrived.announced_at, command.arrived_at)
        return arrived


@dataclass(frozen=True)
class ShipmentCommandHandler(Generic[C]):
    """Runs one command on an announced consignment; answers with its detail."""

    shipments: Shipments

    async def __call__(
        self, conn: Conn, shipment_id: uuid.UUID, command: C, metadata: JsonDict
    ) -> ShipmentDetail:
        await self.shipments.handle(conn, str(shipment_id), command, metadata)
        return await queries.shipment_detail(conn, shipment_id)


class RecordInspectionHandler(ShipmentCommandHandler[domain.RecordInspection]):
    """An arrival part inspected (and its VARs, if filed at once)."""

    async def __call__(
        self,
        conn: Conn,
        shipment_id: uuid.UUID,
        command: domain.RecordInspection,
        metadata: JsonDict,
    ) -> ShipmentDetail:
        detail = await super().__call__(conn, shipment_id, command, metadata)
        if detail.parts_count == 1:
            observe_lead_time("announced_to_arrived", detail.announced_at, command.arrived_at)
        return detail


class FileArrivalReportHandler(ShipmentCommandHandler[domain.FileArrivalReport]):
    """A VAR filed after its part's inspection."""


class AmendShipmentHandler(ShipmentCommandHandler[domain.AmendShipment]):
    pass


class CancelShipmentHandler(ShipmentCommandHandler[domain.CancelShipment]):
    pass


class CloseShipmentHandler(ShipmentCommandHandler[domain.CloseShipment]):
    pass
