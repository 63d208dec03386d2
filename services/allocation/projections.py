"""``allocation_rounds`` and ``notices``: the ministry's rounds and each province's inbox.

Set-based: each statement projects every event of its type in a batch at once, reading
them by position (``$1``) from the event store in the same transaction. A batch that
touches notices NOTIFYs ``aidport_notices`` once per province it touched, so live feeds
on any replica learn of it when the transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDecided,
    NoticeAcknowledged,
)
from shared.db import Conn
from shared.projections import SqlProjection

NOTICES_CHANNEL = "aidport_notices"


class RoundsProjection(SqlProjection):
    name = "allocation_rounds"
    tables = ("allocation_rounds",)
    key_field = "round_id"
    statements: ClassVar[dict[str, str]] = {
        AllocationRoundDecided.event_type: """
            INSERT INTO allocation_rounds (round_id, shipment_id, policy, decided_at, lines,
                last_position)
            SELECT e.data->>'round_id', (e.data->>'shipment_id')::uuid, e.data->>'policy',
                (e.data->>'decided_at')::timestamptz, e.data->'lines', e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])""",
    }


class NoticesProjection(SqlProjection):
    name = "notices"
    tables = ("notices",)
    key_field = "notice_number"
    statements: ClassVar[dict[str, str]] = {
        AllocatedToProvince.event_type: """
            INSERT INTO notices (notice_number, round_id, shipment_id, province_code, line_no,
                product, unit, pack_size, quantity, packs, lots, status, allocated_at, position)
            SELECT e.data->>'notice_number', e.data->>'round_id', (e.data->>'shipment_id')::uuid,
                e.data->>'province_code', (e.data->>'line_no')::int, e.data->>'product',
                e.data->>'unit',
                (e.data->>'pack_size')::int, (e.data->>'quantity')::bigint,
                (e.data->>'packs')::bigint,
                e.data->'lots', 'new', e.recorded_at, e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[])""",
        NoticeAcknowledged.event_type: """
            UPDATE notices n SET status = 'acknowledged',
                acknowledged_at = (e.data->>'acknowledged_at')::timestamptz,
                acknowledged_by = e.metadata->>'actor'
            FROM events e
            WHERE e.position = ANY($1::bigint[]) AND n.notice_number = e.data->>'notice_number'""",
    }

    async def after_batch(self, conn: Conn, positions: Sequence[int]) -> None:
        await conn.execute(
            """SELECT pg_notify($1, p) FROM (SELECT DISTINCT data->>'province_code' AS p
                   FROM events WHERE position = ANY($2::bigint[])) AS touched
               ORDER BY p""",
            NOTICES_CHANNEL,
            list(positions),
        )
