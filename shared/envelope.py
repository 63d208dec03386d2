"""CloudEvents Kafka protocol binding, binary mode.

The Kafka value is the event's JSON data; the context attributes travel as
``ce_*`` headers. The event id is the store's event id, so a re-published event
keeps its id and consumers can deduplicate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.contracts.base import DomainEvent, EventRegistry, JsonDict, UndecodableEvent
from shared.eventstore import RecordedEvent

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
_REQUIRED = ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_subject", "ce_time")

Headers = list[tuple[str, bytes]]


class UndecodableMessage(ValueError):
    """A Kafka message that cannot be read as one of our events: it goes to the DLQ."""


@dataclass(frozen=True)
class KafkaRecord:
    key: bytes
    value: bytes
    headers: Headers


@dataclass(frozen=True)
class Envelope:
    """A consumed event with its context attributes and where it was read from."""

    id: UUID
    type: str
    source: str
    subject: str
    time: datetime
    data: JsonDict
    event: DomainEvent
    correlation_id: str | None
    causation_id: str | None
    actor: str | None
    stream_version: int | None
    topic: str = ""
    partition: int = -1
    offset: int = -1
    attributes: dict[str, str] = field(default_factory=dict)  # the headers as received


def to_kafka(event: RecordedEvent, source: str) -> KafkaRecord:
    meta = event.metadata
    attributes: dict[str, Any] = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": str(event.event_id),
        "ce_type": event.event_type,
        "ce_source": source,
        "ce_subject": event.subject,
        "ce_time": event.recorded_at.isoformat(),
        "content-type": CONTENT_TYPE,
        "ce_correlationid": meta.get("correlation_id"),
        "ce_causationid": meta.get("causation_id"),
        "ce_actor": meta.get("actor"),
        "ce_actorrole": meta.get("actor_role"),
        "ce_streamversion": str(event.stream_version),
    }
    headers = [(k, str(v).encode()) for k, v in attributes.items() if v is not None]
    value = json.dumps(event.data, separators=(",", ":")).encode()
    return KafkaRecord(key=event.subject.encode(), value=value, headers=headers)


def headers_dict(headers: Headers | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, raw in headers or ():
        try:
            out[key] = raw.decode() if raw is not None else ""
        except UnicodeDecodeError as error:
            raise UndecodableMessage(f"header {key} is not UTF-8") from error
    return out


def from_kafka(headers: Headers | None, value: bytes | None, types: EventRegistry) -> Envelope:
    """Raises UndecodableMessage for a poison message, UnknownEventType for a type we
    do not know (a tolerant reader skips those)."""
    attrs = headers_dict(headers)
    missing = [h for h in _REQUIRED if h not in attrs]
    if missing:
        raise UndecodableMessage(f"missing CloudEvents headers: {', '.join(missing)}")
    try:
        data = json.loads(value or b"")
        event_id = UUID(attrs["ce_id"])
        time = datetime.fromisoformat(attrs["ce_time"])
    except ValueError as error:
        raise UndecodableMessage(str(error)) from error
    if not isinstance(data, dict):
        raise UndecodableMessage("the value is not a JSON object")
    try:
        event = types.decode(attrs["ce_type"], data)
    except UndecodableEvent as error:
        raise UndecodableMessage(str(error)) from error
    version = attrs.get("ce_streamversion")
    return Envelope(
        id=event_id,
        type=attrs["ce_type"],
        source=attrs["ce_source"],
        subject=attrs["ce_subject"],
        time=time,
        data=data,
        event=event,
        correlation_id=attrs.get("ce_correlationid"),
        causation_id=attrs.get("ce_causationid"),
        actor=attrs.get("ce_actor"),
        stream_version=int(version) if version and version.isdigit() else None,
        attributes=attrs,
    )
