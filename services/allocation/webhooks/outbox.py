"""The durable outbox: one delivery per live endpoint of the province and event, written by
the same transaction that records the event (a projection over ``webhook_deliveries``);
retried for three days (the column's default).

It owns no rebuilt table: a projection rebuild replays into it, and the unique
(endpoint, event) pair with ``from_position`` (events before the endpoint existed) keep a
replay from sending anything twice.

The log is kept for ``AIDPORT_WEBHOOK_LOG_RETENTION_DAYS`` after a delivery ends (delivered,
or failed or cancelled at the latest when its retries would have stopped): ``LOG_SWEEP``
first raises each endpoint's ``from_position`` past the ended deliveries it deletes, so that
a rebuild cannot enqueue them again. It stops below the first delivery still pending or
recent, so no event of the province after ``from_position`` lacks its delivery."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from services.allocation.webhooks.settings import WebhookSettings
from shared.contracts.allocation import AllocatedToProvince, NoticeAmended, NoticeDispatched
from shared.projections import SqlProjection
from shared.retention import Sweep

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


# $1: the retention (an interval), $2: the most deliveries one statement deletes (and each
# endpoint's bound moves past at once). Positions come from transactions long committed, so
# no event below a raised bound can still be enqueued. Attempts go with their delivery.
_ENDED_BEFORE = (
    "d.status <> 'pending' AND coalesce(d.delivered_at, d.give_up_at) < now() - $1::interval"
)
_LOG_SWEEP = f"""
WITH bound AS (
    SELECT w.endpoint_id, greatest(w.from_position, least(
        (SELECT d.position - 1 FROM webhook_deliveries d
         WHERE d.endpoint_id = w.endpoint_id AND d.position > w.from_position
           AND NOT ({_ENDED_BEFORE})
         ORDER BY d.position LIMIT 1),
        (SELECT max(position) FROM (
            SELECT d.position FROM webhook_deliveries d
            WHERE d.endpoint_id = w.endpoint_id AND d.position > w.from_position
            ORDER BY d.position LIMIT $2) AS next_ones))) AS upto
    FROM webhook_endpoints w
), raised AS (
    UPDATE webhook_endpoints w SET from_position = b.upto FROM bound b
    WHERE w.endpoint_id = b.endpoint_id AND b.upto > w.from_position
), gone AS (
    SELECT d.delivery_id FROM bound b
    JOIN webhook_deliveries d ON d.endpoint_id = b.endpoint_id AND d.position <= b.upto
    WHERE {_ENDED_BEFORE}
    LIMIT $2
), attempts AS (
    DELETE FROM webhook_attempts a USING gone g WHERE a.delivery_id = g.delivery_id
)
DELETE FROM webhook_deliveries d USING gone g WHERE d.delivery_id = g.delivery_id"""


def log_sweep() -> Sweep:
    """The webhook delivery log's retention (see the module's docstring)."""
    days = WebhookSettings().log_retention_days
    return Sweep("webhook deliveries", _LOG_SWEEP, timedelta(days=days))
