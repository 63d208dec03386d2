"""The ``clearance_cases`` table: the customs queue and the case page."""

from __future__ import annotations

import json

from shared.contracts.customs import ClearanceCaseOpened, ClearedFastTrack, GoodsPresented
from shared.db import Conn
from shared.eventstore import RecordedEvent


class ClearanceCasesProjection:
    name = "clearance_cases"
    tables = ("clearance_cases",)

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        match event.decode():
            case ClearanceCaseOpened() as opened:
                await conn.execute(
                    """INSERT INTO clearance_cases (shipment_id, airport, donor, channel,
                           airway_bill, expected_arrival, status, lines, opened_at, last_position)
                       VALUES ($1, $2, $3, $4, $5, $6, 'awaiting_arrival', $7, $8, $9)""",
                    opened.shipment_id,
                    opened.airport,
                    opened.donor,
                    opened.channel.value,
                    opened.airway_bill,
                    opened.expected_arrival,
                    json.dumps(event.data["lines"]),
                    event.recorded_at,
                    event.position,
                )
            case GoodsPresented() as presented:
                await conn.execute(
                    "UPDATE clearance_cases SET status = 'arrived', arrived_at = $2, received = $3,"
                    " last_position = $4 WHERE shipment_id = $1",
                    presented.shipment_id,
                    presented.arrived_at,
                    json.dumps(event.data["received"]),
                    event.position,
                )
            case ClearedFastTrack() as cleared:
                await conn.execute(
                    """UPDATE clearance_cases SET status = 'cleared', cleared_at = $2,
                           cleared_by = $3, declaration_number = $4, lane = $5, examination = $6,
                           remarks = $7, cleared_lines = $8, last_position = $9
                       WHERE shipment_id = $1""",
                    cleared.shipment_id,
                    cleared.cleared_at,
                    event.metadata.get("actor"),
                    cleared.declaration_number,
                    cleared.lane.value,
                    cleared.examination.value,
                    cleared.remarks,
                    json.dumps(event.data["lines"]),
                    event.position,
                )
