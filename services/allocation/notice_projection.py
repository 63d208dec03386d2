"""The delivery columns of ``notices``: amendments, dispatch, proof of delivery, lead time.

A projection of its own over the table ``NoticesProjection`` owns (listed after it, so the
rows exist): it declares no tables, a rebuild writes into the fresh ``notices`` copy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from services.allocation.projections import NOTICES_CHANNEL
from shared.contracts.allocation import (
    AllocatedToProvince,
    NoticeAmended,
    NoticeDispatched,
    NoticeReceived,
)
from shared.db import Conn
from shared.projections import SqlProjection

_MATCH = "WHERE e.position = ANY($1::bigint[]) AND n.notice_number = e.data->>'notice_number'"


class NoticeDeliveryProjection(SqlProjection):
    name = "notice_delivery"
    tables = ()
    key_field = "notice_number"
    statements: ClassVar[dict[str, str]] = {
        NoticeAmended.event_type: f"""
            UPDATE notices n SET quantity = (e.data->>'quantity')::bigint,
                packs = (e.data->>'packs')::bigint, lots = e.data->'lots',
                amended_at = (e.data->>'amended_at')::timestamptz,
                amendment_number = e.data->>'decision_number',
                status = CASE WHEN (e.data->>'quantity')::bigint = 0
                        AND n.status IN ('issued', 'acknowledged') THEN 'withdrawn'
                    WHEN n.status = 'withdrawn' THEN 'issued' ELSE n.status END
            FROM events e {_MATCH}""",
        NoticeDispatched.event_type: f"""
            UPDATE notices n SET status = 'dispatched', dispatched_lots = e.data->'lots',
                carrier = e.data->>'carrier', dispatched_by = e.data->>'dispatched_by',
                dispatched_at = (e.data->>'dispatched_at')::timestamptz
            FROM events e {_MATCH}""",
        NoticeReceived.event_type: f"""
            UPDATE notices n SET
                status = CASE WHEN (e.data->>'with_discrepancies')::boolean
                    THEN 'received_with_discrepancies' ELSE 'received' END,
                received_lots = e.data->'lots', received_by = e.data->>'received_by',
                received_at = (e.data->>'received_at')::timestamptz,
                with_discrepancies = (e.data->>'with_discrepancies')::boolean,
                rejected_quantity = (SELECT coalesce(sum((r->>'quantity')::bigint), 0)
                    FROM jsonb_array_elements(e.data->'lots') l,
                         jsonb_array_elements(l->'rejections') r),
                lead_time_seconds = extract(epoch FROM
                    (e.data->>'received_at')::timestamptz - n.released_at)
            FROM events e {_MATCH}""",
    }

    async def after_batch(self, conn: Conn, positions: Sequence[int]) -> None:
        """Tell the live inboxes (dispatches and receipts change what they show)."""
        await conn.execute(
            """SELECT pg_notify($1, p) FROM (SELECT DISTINCT data->>'province_code' AS p
                   FROM events WHERE position = ANY($2::bigint[])
                     AND event_type <> $3) AS touched
               ORDER BY p""",
            NOTICES_CHANNEL,
            list(positions),
            AllocatedToProvince.event_type,  # the notices projection announced those
        )
