"""The ``shipments`` table: what intake officers list and open."""

from __future__ import annotations

import json

from shared.contracts.intake import ShipmentAnnounced, ShipmentArrived
from shared.db import Conn
from shared.eventstore import RecordedEvent


class ShipmentsProjection:
    name = "shipments"
    tables = ("shipments",)

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        match event.decode():
            case ShipmentAnnounced() as announced:
                await self._announced(conn, event, announced)
            case ShipmentArrived() as arrived:
                await conn.execute(
                    "UPDATE shipments SET status = 'arrived', arrived_at = $2, received = $3,"
                    " remarks = $4, last_position = $5 WHERE shipment_id = $1",
                    arrived.shipment_id,
                    arrived.arrived_at,
                    json.dumps(event.data["received"]),
                    arrived.remarks,
                    event.position,
                )

    async def _announced(self, conn: Conn, event: RecordedEvent, e: ShipmentAnnounced) -> None:
        await conn.execute(
            """INSERT INTO shipments (shipment_id, donor, channel, airport, flight, airway_bill,
                   expected_arrival, consignee, status, lines, announced_at, announced_by,
                   last_position)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'announced', $9, $10, $11, $12)""",
            e.shipment_id,
            e.donor,
            e.channel.value,
            e.airport,
            e.flight,
            e.airway_bill,
            e.expected_arrival,
            e.consignee,
            json.dumps(event.data["lines"]),
            event.recorded_at,
            event.metadata.get("actor"),
            event.position,
        )
