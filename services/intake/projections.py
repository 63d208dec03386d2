"""The ``shipments`` table: what intake officers list and open."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from shared.contracts.base import DomainEvent
from shared.contracts.intake import ShipmentAnnounced, ShipmentArrived
from shared.eventstore import RecordedEvent
from shared.projections import Row, RowProjection, dumps


class ShipmentsProjection(RowProjection):
    name = "shipments"
    tables = ("shipments",)
    statements: ClassVar[dict[str, str]] = {
        ShipmentAnnounced.event_type: """
            INSERT INTO shipments (shipment_id, donor, channel, airport, flight, airway_bill,
                expected_arrival, consignee, status, lines, announced_at, announced_by,
                last_position)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'announced', $9, $10, $11, $12)""",
        ShipmentArrived.event_type: """
            UPDATE shipments SET status = 'arrived', arrived_at = $2, received = $3,
                remarks = $4, last_position = $5
            WHERE shipment_id = $1""",
    }

    def key(self, decoded: DomainEvent) -> Hashable:
        assert isinstance(decoded, ShipmentAnnounced | ShipmentArrived)
        return decoded.shipment_id

    def row(self, event: RecordedEvent, decoded: DomainEvent) -> Row:
        match decoded:
            case ShipmentAnnounced() as e:
                return (
                    e.shipment_id,
                    e.donor,
                    e.channel.value,
                    e.airport,
                    e.flight,
                    e.airway_bill,
                    e.expected_arrival,
                    e.consignee,
                    dumps(event.data["lines"]),
                    event.recorded_at,
                    event.metadata.get("actor"),
                    event.position,
                )
            case ShipmentArrived() as arrived:
                return (
                    arrived.shipment_id,
                    arrived.arrived_at,
                    dumps(event.data["received"]),
                    arrived.remarks,
                    event.position,
                )
        raise TypeError(event.event_type)
