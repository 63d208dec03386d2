"""``allocation_rounds`` and ``notices``: the ministry's rounds and each province's inbox.

A batch that touches notices also NOTIFYs ``aidport_notices`` once per province it
touched, so live feeds on any replica learn of it when the transaction commits.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDecided,
    NoticeAcknowledged,
)
from shared.contracts.base import DomainEvent
from shared.db import Conn
from shared.eventstore import RecordedEvent
from shared.projections import Row, RowProjection, dumps

NOTICES_CHANNEL = "aidport_notices"


class RoundsProjection(RowProjection):
    name = "allocation_rounds"
    tables = ("allocation_rounds",)
    statements: ClassVar[dict[str, str]] = {
        AllocationRoundDecided.event_type: """
            INSERT INTO allocation_rounds (round_id, shipment_id, policy, decided_at, lines,
                last_position)
            VALUES ($1, $2, $3, $4, $5, $6)""",
    }

    def key(self, decoded: DomainEvent) -> Hashable:
        assert isinstance(decoded, AllocationRoundDecided)
        return decoded.round_id

    def row(self, event: RecordedEvent, decoded: DomainEvent) -> Row:
        assert isinstance(decoded, AllocationRoundDecided)
        return (
            decoded.round_id,
            decoded.shipment_id,
            decoded.policy,
            decoded.decided_at,
            dumps(event.data["lines"]),
            event.position,
        )


class NoticesProjection(RowProjection):
    name = "notices"
    tables = ("notices",)
    statements: ClassVar[dict[str, str]] = {
        AllocatedToProvince.event_type: """
            INSERT INTO notices (notice_number, round_id, shipment_id, province_code, line_no,
                product, unit, pack_size, quantity, packs, lots, status, allocated_at, position)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'new', $12, $13)""",
        NoticeAcknowledged.event_type: """
            UPDATE notices SET status = 'acknowledged', acknowledged_at = $2,
                acknowledged_by = $3
            WHERE notice_number = $1""",
    }

    def key(self, decoded: DomainEvent) -> Hashable:
        assert isinstance(decoded, AllocatedToProvince | NoticeAcknowledged)
        return decoded.notice_number

    def row(self, event: RecordedEvent, decoded: DomainEvent) -> Row:
        match decoded:
            case AllocatedToProvince() as notice:
                return (
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
                    dumps(event.data["lots"]),
                    event.recorded_at,
                    event.position,
                )
            case NoticeAcknowledged() as ack:
                return (ack.notice_number, ack.acknowledged_at, event.metadata.get("actor"))
        raise TypeError(event.event_type)

    async def after_batch(self, conn: Conn, decoded: Sequence[DomainEvent]) -> None:
        provinces = sorted(
            {
                e.province_code
                for e in decoded
                if isinstance(e, AllocatedToProvince | NoticeAcknowledged)
            }
        )
        await conn.execute(
            "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", NOTICES_CHANNEL, provinces
        )
