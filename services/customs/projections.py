"""The ``clearance_cases`` table: the customs queue and the case page.

Set-based: each statement projects every event of its type in a batch at once, reading
them by position (``$1``) from the event store in the same transaction.
"""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.customs import (
    ClearanceCaseOpened,
    ClearedFastTrack,
    GoodsPresented,
    GoodsPresentedV2,
)
from shared.projections import SqlProjection


class ClearanceCasesProjection(SqlProjection):
    name = "clearance_cases"
    tables = ("clearance_cases",)
    key_field = "shipment_id"
    statements: ClassVar[dict[str, str]] = {
        ClearanceCaseOpened.event_type: """
            INSERT INTO clearance_cases (shipment_id, airport, donor, channel, airway_bill,
                expected_arrival, status, lines, opened_at, last_position)
            SELECT (e.data->>'shipment_id')::uuid, e.data->>'airport', e.data->>'donor',
                e.data->>'channel',
                e.data->>'airway_bill', (e.data->>'expected_arrival')::timestamptz,
                'awaiting_arrival',
                e.data->'lines', e.recorded_at, e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])""",
        GoodsPresented.event_type: """
            UPDATE clearance_cases c SET status = 'arrived',
                arrived_at = (e.data->>'arrived_at')::timestamptz,
                received = e.data->'received', last_position = e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])
                AND c.shipment_id = (e.data->>'shipment_id')::uuid""",
        GoodsPresentedV2.event_type: """
            UPDATE clearance_cases c SET status = 'arrived',
                arrived_at = (e.data->>'arrived_at')::timestamptz,
                received = e.data->'received', last_position = e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])
                AND c.shipment_id = (e.data->>'shipment_id')::uuid""",
        ClearedFastTrack.event_type: """
            UPDATE clearance_cases c SET status = 'cleared',
                cleared_at = (e.data->>'cleared_at')::timestamptz,
                cleared_by = e.metadata->>'actor',
                declaration_number = e.data->>'declaration_number', lane = e.data->>'lane',
                examination = e.data->>'examination', remarks = coalesce(e.data->>'remarks', ''),
                cleared_lines = e.data->'lines', last_position = e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])
                AND c.shipment_id = (e.data->>'shipment_id')::uuid""",
    }
