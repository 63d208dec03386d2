"""The durable outbox: one delivery per live endpoint of the province and event, written by
the same transaction that records the event (a projection over ``webhook_deliveries``);
retried for three days (the column's default).

It owns no rebuilt table: a projection rebuild replays into it, and the unique
(endpoint, event) pair with ``from_position`` (events before the endpoint existed) keep a
replay from sending anything twice."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.allocation import AllocatedToProvince, NoticeAmended, NoticeDispatched
from shared.projections import SqlProjection

DELIVERED_TYPES = (
    AllocatedToProvince.event_type,
    NoticeAmended.event_type,
    NoticeDispatched.event_type,
)

ENQUEUE = """
    INSERT INTO public.webhook_deliveries (endpoint_id, event_id, position, event_type,
        notice_number)
    SELECT w.endpoint_id, e.event_id, e.position, e.event_type, e.data->>'notice_number'
    FROM events e JOIN public.webhook_endpoints w
      ON w.province_code = e.data->>'province_code' AND w.deleted_at IS NULL
     AND e.position > w.from_position
    WHERE e.position = ANY($1::bigint[])
    ON CONFLICT (endpoint_id, event_id) DO NOTHING"""


class WebhookOutbox(SqlProjection):
    name = "webhook_outbox"
    tables = ()
    key_field = "notice_number"
    statements: ClassVar[dict[str, str]] = dict.fromkeys(DELIVERED_TYPES, ENQUEUE)
