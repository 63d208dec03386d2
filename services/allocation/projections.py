"""``allocation_rounds`` and ``notices``: the ministry's rounds and each province's inbox.

A new notice also NOTIFYs ``aidport_notices`` with its province code, so live feeds on
any replica learn of it when the transaction commits.
"""

from __future__ import annotations

import json

from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDecided,
    NoticeAcknowledged,
)
from shared.db import Conn
from shared.eventstore import RecordedEvent

NOTICES_CHANNEL = "aidport_notices"


class RoundsProjection:
    name = "allocation_rounds"
    tables = ("allocation_rounds",)

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        if event.event_type != AllocationRoundDecided.event_type:
            return
        decided = event.decode()
        assert isinstance(decided, AllocationRoundDecided)
        await conn.execute(
            "INSERT INTO allocation_rounds (round_id, shipment_id, policy, decided_at, lines,"
            " last_position) VALUES ($1, $2, $3, $4, $5, $6)",
            decided.round_id,
            decided.shipment_id,
            decided.policy,
            decided.decided_at,
            json.dumps(event.data["lines"]),
            event.position,
        )


class NoticesProjection:
    name = "notices"
    tables = ("notices",)

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        match event.decode():
            case AllocatedToProvince() as notice:
                await conn.execute(
                    """INSERT INTO notices (notice_number, round_id, shipment_id, province_code,
                           line_no, product, unit, pack_size, quantity, packs, lots, status,
                           allocated_at, position)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'new', $12, $13)""",
                    notice.notice_number,
                    notice.round_id,
                    notice.shipment_id,
                    notice.province_code,
                    notice.line_no,
                    notice.product,
                    notice.unit.value,
                    notice.pack_size,
                    notice.quantity,
                    notice.packs,
                    json.dumps(event.data["lots"]),
                    event.recorded_at,
                    event.position,
                )
                await conn.execute(
                    "SELECT pg_notify($1, $2)", NOTICES_CHANNEL, notice.province_code
                )
            case NoticeAcknowledged() as ack:
                await conn.execute(
                    "UPDATE notices SET status = 'acknowledged', acknowledged_at = $2,"
                    " acknowledged_by = $3 WHERE notice_number = $1",
                    ack.notice_number,
                    ack.acknowledged_at,
                    event.metadata.get("actor"),
                )
                await conn.execute("SELECT pg_notify($1, $2)", NOTICES_CHANNEL, ack.province_code)
