"""Intake use cases: one aggregate per consignment, keyed by its airway bill.

Each handler runs one command inside the caller's unit of work (a transaction on ``conn``,
opened by the HTTP adapter or a test with ``shared.application.in_transaction``) and
answers with the consignment as the read model shows it after the command.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.intake import domain, queries
from services.intake.projections import ShipmentsProjection
from services.intake.queries import ShipmentView
from shared.application import CommandHandler
from shared.contracts.base import JsonDict
from shared.db import Conn
from shared.eventstore import EventStore
from shared.observability import observe_lead_time
from shared.runtime import Runtime

PROJECTIONS = (ShipmentsProjection(),)
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
        await self.shipments.handle(conn, str(command.shipment_id), command, metadata)
        return await queries.existing_shipment(conn, command.shipment_id)


@dataclass(frozen=True)
class RecordArrivalHandler:
    shipments: Shipments

    async def __call__(
        self, conn: Conn, shipment_id: uuid.UUID, command: domain.RecordArrival, metadata: JsonDict
    ) -> ShipmentView:
        await self.shipments.handle(conn, str(shipment_id), command, metadata)
        arrived = await queries.existing_shipment(conn, shipment_id)
        observe_lead_time("announced_to_arrived", arrived.announced_at, command.arrived_at)
        return arrived
