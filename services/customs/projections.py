"""The ``clearance_cases`` table: the customs queue and the case page."""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from shared.contracts.base import DomainEvent
from shared.contracts.customs import ClearanceCaseOpened, ClearedFastTrack, GoodsPresented
from shared.eventstore import RecordedEvent
from shared.projections import Row, RowProjection, dumps


class ClearanceCasesProjection(RowProjection):
    name = "clearance_cases"
    tables = ("clearance_cases",)
    statements: ClassVar[dict[str, str]] = {
        ClearanceCaseOpened.event_type: """
            INSERT INTO clearance_cases (shipment_id, airport, donor, channel, airway_bill,
                expected_arrival, status, lines, opened_at, last_position)
            VALUES ($1, $2, $3, $4, $5, $6, 'awaiting_arrival', $7, $8, $9)""",
        GoodsPresented.event_type: """
            UPDATE clearance_cases SET status = 'arrived', arrived_at = $2, received = $3,
                last_position = $4
            WHERE shipment_id = $1""",
        ClearedFastTrack.event_type: """
            UPDATE clearance_cases SET status = 'cleared', cleared_at = $2, cleared_by = $3,
                declaration_number = $4, lane = $5, examination = $6, remarks = $7,
                cleared_lines = $8, last_position = $9
            WHERE shipment_id = $1""",
    }

    def key(self, decoded: DomainEvent) -> Hashable:
        assert isinstance(decoded, ClearanceCaseOpened | GoodsPresented | ClearedFastTrack)
        return decoded.shipment_id

    def row(self, event: RecordedEvent, decoded: DomainEvent) -> Row:
        match decoded:
            case ClearanceCaseOpened() as opened:
                return (
                    opened.shipment_id,
                    opened.airport,
                    opened.donor,
                    opened.channel.value,
                    opened.airway_bill,
                    opened.expected_arrival,
                    dumps(event.data["lines"]),
                    event.recorded_at,
                    event.position,
                )
            case GoodsPresented() as presented:
                return (
                    presented.shipment_id,
                    presented.arrived_at,
                    dumps(event.data["received"]),
                    event.position,
                )
            case ClearedFastTrack() as cleared:
                return (
                    cleared.shipment_id,
                    cleared.cleared_at,
                    event.metadata.get("actor"),
                    cleared.declaration_number,
                    cleared.lane.value,
                    cleared.examination.value,
                    cleared.remarks,
                    dumps(event.data["lines"]),
                    event.position,
                )
        raise TypeError(event.event_type)
