"""The intake read tables: ``shipments`` (what officers list and open), ``shipment_parts``
(each arrival part as counted) and ``arrival_reports`` (the VARs, due and filed).

Set-based: each statement projects every event of its type in a batch at once, reading
them by position (``$1``) from the event store in the same transaction. ``ShipmentArrived``
v1 (before arrival parts) is projected from its own stored shape, as part 1.
"""

from __future__ import annotations

from typing import ClassVar

from services.intake.domain import VAR_DUE
from shared.contracts.intake import (
    ArrivalReportFiled,
    ShipmentAmended,
    ShipmentAnnounced,
    ShipmentArrived,
    ShipmentArrivedV2,
    ShipmentCancelled,
    ShipmentClosed,
)
from shared.projections import SqlProjection

_OF_BATCH = """FROM events e
            WHERE e.position = ANY($1::bigint[])
                AND s.shipment_id = (e.data->>'shipment_id')::uuid"""


class ShipmentsProjection(SqlProjection):
    name = "shipments"
    tables = ("shipments",)
    key_field = "shipment_id"
    statements: ClassVar[dict[str, str]] = {
        ShipmentAnnounced.event_type: """
            INSERT INTO shipments (shipment_id, donor, channel, airport, flight, airway_bill,
                expected_arrival, consignee, status, lines, announced_at, announced_by,
                priority, last_position)
            SELECT (e.data->>'shipment_id')::uuid, e.data->>'donor', e.data->>'channel',
                e.data->>'airport',
                e.data->>'flight', e.data->>'airway_bill',
                (e.data->>'expected_arrival')::timestamptz,
                e.data->>'consignee', 'announced', e.data->'lines', e.recorded_at,
                e.metadata->>'actor', coalesce(e.data->>'priority', 'routine'), e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])""",
        ShipmentAmended.event_type: f"""
            UPDATE shipments s SET donor = e.data->>'donor', channel = e.data->>'channel',
                flight = e.data->>'flight',
                expected_arrival = (e.data->>'expected_arrival')::timestamptz,
                consignee = e.data->>'consignee', lines = e.data->'lines',
                amended_at = (e.data->>'amended_at')::timestamptz,
                priority = coalesce(e.data->>'priority', s.priority),
                last_position = e.position
            {_OF_BATCH}""",
        ShipmentCancelled.event_type: f"""
            UPDATE shipments s SET status = 'cancelled',
                cancelled_at = (e.data->>'cancelled_at')::timestamptz,
                cancel_reason = e.data->>'reason', last_position = e.position
            {_OF_BATCH}""",
        # Version 1 was the one-shot arrival: complete when recorded.
        ShipmentArrived.event_type: f"""
            UPDATE shipments s SET status = 'arrived', parts_count = 1,
                arrived_at = (e.data->>'arrived_at')::timestamptz,
                received = e.data->'received', remarks = coalesce(e.data->>'remarks', ''),
                last_position = e.position
            {_OF_BATCH}""",
        ShipmentArrivedV2.event_type: f"""
            UPDATE shipments s SET status = 'partially_arrived',
                parts_count = s.parts_count + 1,
                arrived_at = coalesce(s.arrived_at, (e.data->>'arrived_at')::timestamptz),
                received = coalesce(s.received, '[]') || (
                    SELECT coalesce(jsonb_agg(jsonb_build_object('line_no', l->'line_no',
                        'lot_number', l->'lot_number', 'quantity', l->'accepted')), '[]')
                    FROM jsonb_array_elements(e.data->'lots') l),
                remarks = coalesce(e.data->>'remarks', ''),
                last_position = e.position
            {_OF_BATCH}""",
        ShipmentClosed.event_type: f"""
            UPDATE shipments s SET
                status = CASE WHEN EXISTS (
                    SELECT 1 FROM jsonb_array_elements(e.data->'accepted') a
                    WHERE (a->>'quantity')::bigint > 0)
                    THEN 'arrived' ELSE 'closed_nothing_to_clear' END,
                closed_at = (e.data->>'closed_at')::timestamptz,
                closed_by = e.data->>'closed_by', accepted = e.data->'accepted',
                shortages = coalesce(e.data->'discrepancies', '[]'),
                last_position = e.position
            {_OF_BATCH}""",
    }


class ArrivalPartsProjection(SqlProjection):
    """Applied after ``ShipmentsProjection`` (it reads the shipment's lines and airport)."""

    name = "arrival_parts"
    tables = ("shipment_parts", "arrival_reports")
    key_field = "shipment_id"
    statements: ClassVar[dict[str, str]] = {
        ShipmentArrived.event_type: """
            INSERT INTO shipment_parts (shipment_id, part_no, flight, arrived_at, lots,
                discrepancies, recorded_by, remarks, last_position)
            SELECT (e.data->>'shipment_id')::uuid, 1, '', (e.data->>'arrived_at')::timestamptz,
                (SELECT coalesce(jsonb_agg(jsonb_build_object('line_no', r->'line_no',
                    'lot_number', r->'lot_number', 'counted', r->'quantity',
                    'accepted', r->'quantity', 'rejections', '[]'::jsonb)), '[]')
                 FROM jsonb_array_elements(e.data->'received') r),
                '[]', e.metadata->>'actor', coalesce(e.data->>'remarks', ''), e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])""",
        ShipmentArrivedV2.event_type: f"""
            WITH parts AS (
                INSERT INTO shipment_parts (shipment_id, part_no, flight, arrived_at,
                    entered_cold_store_at, lots, discrepancies, recorded_by, remarks,
                    last_position)
                SELECT (e.data->>'shipment_id')::uuid, (e.data->>'part_no')::int,
                    coalesce(e.data->>'flight', ''), (e.data->>'arrived_at')::timestamptz,
                    (e.data->>'entered_cold_store_at')::timestamptz, e.data->'lots',
                    coalesce(e.data->'discrepancies', '[]'),
                    coalesce(nullif(e.data->>'recorded_by', ''), e.metadata->>'actor'),
                    coalesce(e.data->>'remarks', ''), e.position
                FROM events e
                WHERE e.position = ANY($1::bigint[])
                RETURNING shipment_id, part_no, arrived_at, lots)
            INSERT INTO arrival_reports (shipment_id, part_no, line_no, airport, airway_bill,
                product, arrived_at, due_at)
            SELECT p.shipment_id, p.part_no, (l->>'line_no')::int, s.airport, s.airway_bill,
                l->>'product', p.arrived_at, p.arrived_at + interval '{VAR_DUE.days} days'
            FROM parts p JOIN shipments s USING (shipment_id)
                CROSS JOIN jsonb_array_elements(s.lines) l
            WHERE l->>'category' = 'vaccine' AND EXISTS (
                SELECT 1 FROM jsonb_array_elements(p.lots) c
                WHERE c->>'line_no' = l->>'line_no')""",
        ArrivalReportFiled.event_type: """
            UPDATE arrival_reports r SET filed_at = (e.data->>'filed_at')::timestamptz,
                report = e.data
            FROM events e
            WHERE e.position = ANY($1::bigint[])
                AND r.shipment_id = (e.data->>'shipment_id')::uuid
                AND r.part_no = (e.data->>'part_no')::int
                AND r.line_no = (e.data->>'line_no')::int""",
    }
