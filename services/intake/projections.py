"""The ``shipments`` table: what intake officers list and open.

Set-based: each statement projects every event of its type in a batch at once, reading
them by position (``$1``) from the event store in the same transaction.
"""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.intake import ShipmentAnnounced, ShipmentArrived, ShipmentArrivedV2
from shared.projections import SqlProjection


class ShipmentsProjection(SqlProjection):
    name = "shipments"
    tables = ("shipments",)
    key_field = "shipment_id"
    statements: ClassVar[dict[str, str]] = {
        ShipmentAnnounced.event_type: """
            INSERT INTO shipments (shipment_id, donor, channel, airport, flight, airway_bill,
                expected_arrival, consignee, status, lines, announced_at, announced_by,
                last_position)
            SELECT (e.data->>'shipment_id')::uuid, e.data->>'donor', e.data->>'channel',
                e.data->>'airport',
                e.data->>'flight', e.data->>'airway_bill',
                (e.data->>'expected_arrival')::timestamptz,
                e.data->>'consignee', 'announced', e.data->'lines', e.recorded_at,
                e.metadata->>'actor', e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])""",
        ShipmentArrived.event_type: """
            UPDATE shipments s SET status = 'arrived',
                arrived_at = (e.data->>'arrived_at')::timestamptz,
                received = e.data->'received', remarks = coalesce(e.data->>'remarks', ''),
                last_position = e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])
                AND s.shipment_id = (e.data->>'shipment_id')::uuid""",
        ShipmentArrivedV2.event_type: """
            UPDATE shipments s SET status = 'arrived',
                arrived_at = (e.data->>'arrived_at')::timestamptz,
                received = (
                    SELECT coalesce(jsonb_agg(jsonb_build_object('line_no', l->'line_no',
                        'lot_number', l->'lot_number', 'quantity', l->'accepted')), '[]')
                    FROM jsonb_array_elements(e.data->'lots') l),
                remarks = coalesce(e.data->>'remarks', ''),
                last_position = e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])
                AND s.shipment_id = (e.data->>'shipment_id')::uuid""",
    }
