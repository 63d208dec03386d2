"""``allocation_rounds`` and ``notices``: the ministry's rounds and each province's inbox.

Set-based: each statement projects every event of its type in a batch at once, reading
them by position (``$1``) from the event store in the same transaction. A batch that
touches notices NOTIFYs ``aidport_notices`` once per province it touched, so live feeds
on any replica learn of it when the transaction commits.

A round row keeps its lines as drafted and appends each adjustment and amendment; the
query layer applies them (``domain.changes``), as the aggregate does. A redraft under
another policy replaces the draft and its adjustments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDecided,
    AllocationRoundDrafted,
    NoticeAcknowledged,
    RoundAdjusted,
    RoundAmended,
    RoundApproved,
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
                last_position, approved_at, approved_by, decision_number)
            SELECT e.data->>'round_id', (e.data->>'shipment_id')::uuid, e.data->>'policy',
                (e.data->>'decided_at')::timestamptz, e.data->'lines', e.position,
                (e.data->>'decided_at')::timestamptz, 'automatic under ' || (e.data->>'policy'),
                ''
            FROM events e
            WHERE e.position = ANY($1::bigint[])""",
        AllocationRoundDrafted.event_type: """
            INSERT INTO allocation_rounds (round_id, shipment_id, policy, decided_at, lines,
                last_position, source, release_no, policy_id, policy_version, status, automatic,
                use_by, released_at, drafted_by, donor)
            SELECT e.data->>'round_id', (e.data->>'shipment_id')::uuid,
                (e.data->>'policy_id') || '/v' || (e.data->>'policy_version'),
                (e.data->>'drafted_at')::timestamptz, e.data->'lines', e.position,
                e.data->>'source', (e.data->>'release_no')::int, e.data->>'policy_id',
                (e.data->>'policy_version')::int, 'drafted',
                coalesce((e.data->>'automatic_approval')::boolean, false),
                (e.data->>'use_by')::date,
                (e.data->>'released_at')::timestamptz, coalesce(e.data->>'drafted_by', ''),
                coalesce(e.data->>'donor', '')
            FROM events e
            WHERE e.position = ANY($1::bigint[])
            ON CONFLICT (round_id) DO UPDATE SET policy = EXCLUDED.policy,
                decided_at = EXCLUDED.decided_at, lines = EXCLUDED.lines,
                last_position = EXCLUDED.last_position, policy_id = EXCLUDED.policy_id,
                policy_version = EXCLUDED.policy_version, automatic = EXCLUDED.automatic,
                use_by = EXCLUDED.use_by, drafted_by = EXCLUDED.drafted_by, adjustments = '[]'
            """,
        RoundAdjusted.event_type: """
            UPDATE allocation_rounds r SET adjustments = r.adjustments || jsonb_build_array(
                    e.data - 'shipment_id' - 'round_id'),
                last_position = e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[]) AND r.round_id = e.data->>'round_id'""",
        RoundApproved.event_type: """
            UPDATE allocation_rounds r SET status = 'approved',
                decision_number = e.data->>'decision_number',
                decision_date = (e.data->>'decision_date')::date,
                approved_by = e.data->>'approved_by',
                approved_at = (e.data->>'approved_at')::timestamptz,
                automatic = (e.data->>'automatic')::boolean,
                last_position = e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[]) AND r.round_id = e.data->>'round_id'""",
        RoundAmended.event_type: """
            UPDATE allocation_rounds r SET amendments = r.amendments || jsonb_build_array(
                    e.data - 'shipment_id' - 'round_id'),
                decision_number = e.data->>'decision_number',
                decision_date = (e.data->>'decision_date')::date,
                last_position = e.position
            FROM events e
            WHERE e.position = ANY($1::bigint[]) AND r.round_id = e.data->>'round_id'""",
    }


class NoticesProjection(SqlProjection):
    name = "notices"
    tables = ("notices",)
    key_field = "notice_number"
    statements: ClassVar[dict[str, str]] = {
        AllocatedToProvince.event_type: """
            INSERT INTO notices (notice_number, round_id, shipment_id, province_code, line_no,
                product, unit, pack_size, quantity, packs, lots, status, allocated_at, position,
                decision_number, released_at)
            SELECT e.data->>'notice_number', e.data->>'round_id', (e.data->>'shipment_id')::uuid,
                e.data->>'province_code', (e.data->>'line_no')::int, e.data->>'product',
                e.data->>'unit',
                (e.data->>'pack_size')::int, (e.data->>'quantity')::bigint,
                (e.data->>'packs')::bigint,
                e.data->'lots', 'issued', e.recorded_at, e.position,
                coalesce(e.data->>'decision_number', ''), (e.data->>'released_at')::timestamptz
            FROM events e
            WHERE e.position = ANY($1::bigint[])""",
        NoticeAcknowledged.event_type: """
            UPDATE notices n SET status = 'acknowledged',
                acknowledged_at = (e.data->>'acknowledged_at')::timestamptz,
                acknowledged_by = e.metadata->>'actor'
            FROM events e
            WHERE e.position = ANY($1::bigint[]) AND n.notice_number = e.data->>'notice_number'""",
        # NoticeAmended and the delivery steps: NoticeDeliveryProjection
    }

    async def after_batch(self, conn: Conn, positions: Sequence[int]) -> None:
        await conn.execute(
            """SELECT pg_notify($1, p) FROM (SELECT DISTINCT data->>'province_code' AS p
                   FROM events WHERE position = ANY($2::bigint[])) AS touched
               WHERE p IS NOT NULL ORDER BY p""",
            NOTICES_CHANNEL,
            list(positions),
        )
