"""Metrics and structured logs shared by the three services.

Metric names are the operators' vocabulary: relay backlog, oldest unpublished event,
consumer lag, parked sequences, conflicts, request durations and lead times.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPENDED = Counter(
    "aidport_events_appended_total", "Events appended to the event store", ["service", "type"]
)
CONCURRENCY_CONFLICTS = Counter(
    "aidport_concurrency_conflicts_total", "Appends refused by the expected version", ["service"]
)
RELAY_PUBLISHED = Counter(
    "aidport_relay_published_total", "Events published to Kafka by the relay", ["service"]
)
RELAY_BACKLOG = Gauge(
    "aidport_relay_backlog_events",
    "Events not yet published (by position: a rolled-back append leaves a gap counted here)",
    ["service"],
)
RELAY_OLDEST_AGE = Gauge(
    "aidport_relay_oldest_unpublished_age_seconds",
    "Age of the oldest event not yet published (0 when none)",
    ["service"],
)
RELAY_ACTIVE = Gauge(
    "aidport_relay_active", "1 when this replica holds the relay lock", ["service"]
)
CONSUMER_LAG = Gauge(
    "aidport_consumer_lag_messages",
    "Messages behind the partition end",
    ["group", "topic", "partition"],
)
CONSUMED = Counter("aidport_consumed_total", "Messages consumed, by outcome", ["group", "outcome"])
PARKED = Gauge("aidport_parked_messages", "Messages parked behind a failed event", ["group"])
DEAD_LETTERS = Gauge(
    "aidport_dead_letters", "Dead letters not resolved yet (see /admin/dead-letters)", ["group"]
)
CONSUMER_RESTARTS = Counter(
    "aidport_consumer_restarts_total", "Restarts of a dead consumer loop", ["group"]
)
RELAY_QUARANTINED = Gauge(
    "aidport_relay_quarantined_events",
    "Events refused by the broker for good, and the later events held behind them",
    ["service", "state"],
)
HTTP_DURATION = Histogram(
    "aidport_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route", "status"],
)
LEAD_TIME = Histogram(
    "aidport_lead_time_seconds",
    "Time between two steps of a consignment (e.g. announced -> arrived)",
    ["step"],
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400, 172800, 604800, float("inf")),
)


def observe_lead_time(step: str, start: datetime | str, end: datetime | str) -> None:
    """Record how long a consignment took from one step to the next (e.g. arrived_to_cleared)."""
    begin = datetime.fromisoformat(start) if isinstance(start, str) else start
    finish = datetime.fromisoformat(end) if isinstance(end, str) else end
    LEAD_TIME.labels(step).observe(max((finish - begin).total_seconds(), 0.0))


correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, carrying the correlation id of the request or message."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if cid := correlation_id.get():
            entry["correlation_id"] = cid
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RepeatFilter(logging.Filter):
    """Collapses the repeated warnings of a chatty library (aiokafka logs every failed
    reconnect): one line per message template per ``window`` seconds, the next one telling
    how many were suppressed. Our own outage lines say when an outage starts and ends."""

    def __init__(self, prefix: str = "aiokafka", window: float = 60.0) -> None:
        super().__init__()
        self.prefix = prefix
        self.window = window
        self._last: dict[tuple[str, str], float] = {}
        self._suppressed: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        key = (record.name, str(record.msg))
        last = self._last.get(key)
        if last is not None and record.created - last < self.window:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = record.created
        if suppressed := self._suppressed.pop(key, 0):
            record.msg = f"{record.msg} ({suppressed} similar lines suppressed)"
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel("WARNING")
