"""CloudEvents Kafka protocol binding, binary mode.

The Kafka value is the event's JSON data; the context attributes travel as
``ce_*`` headers. The event id is the store's event id, so a re-published event
keeps its id and consumers can deduplicate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from shared.contracts.base import (
    DomainEvent,
    EventRegistry,
    JsonDict,
    UndecodableEvent,
    UnknownEventType,
)
from shared.eventstore import RecordedEvent

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
_REQUIRED = ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_subject", "ce_time")

Headers = list[tuple[str, bytes]]


class UndecodableMessage(ValueError):
    """A Kafka message that cannot be read as one of our events: it goes to the DLQ."""


class UnknownTypeMessage(UndecodableMessage):
    """A well-formed message of a type this reader does not know (also dead-lettered: a
    type we never heard of is a producer's mistake, not something to drop in silence)."""


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
    raw_value: bytes = b""  # the message as received, kept when the event is parked
    raw_headers: Headers = field(default_factory=list)


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
    return KafkaRecord(key=event.subject.encode(), value=ascii_json(event.data), headers=headers)


_NOT_PRINTABLE_ASCII = re.compile(r"[^\x00-\x7e]")


def ascii_json(data: Any) -> bytes:
    """Compact JSON with every character beyond ASCII escaped as ``\\uXXXX``: the bytes
    ``json.dumps(data, separators=(",", ":"))`` gives (floats aside, written as shortly),
    at orjson's speed. The relay encodes every event this way; the event store's
    ``published_size`` counts these bytes."""
    try:
        text = orjson.dumps(data).decode()
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits
        return json.dumps(data, separators=(",", ":")).encode()
    if text.isascii() and "\x7f" not in text:
        return text.encode()
    return _NOT_PRINTABLE_ASCII.sub(_escaped, text).encode()


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # beyond the BMP: a UTF-16 surrogate pair, as json.dumps writes it
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def headers_dict(headers: Headers | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, raw in headers or ():
        try:
            value = raw.decode() if raw is not None else ""
        except UnicodeDecodeError as error:
            raise UndecodableMessage(f"header {key} is not UTF-8") from error
        if "\x00" in key or "\x00" in value:
            raise UndecodableMessage(f"header {key} holds a NUL character")
        out[key] = value
    return out


def unstorable_text(value: object) -> str | None:
    """Why ``value`` (decoded JSON) cannot be stored as text in PostgreSQL, if it cannot:
    NUL characters and lone surrogates (``\\ud800``) are valid JSON but not valid text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "a NUL character (U+0000) in the data"
            try:
                item.encode()
            except UnicodeEncodeError:
                return "a lone surrogate (not UTF-8) in the data"
    return None


def _json_value(value: bytes, text: str) -> Any:
    """orjson, fast; the standard library for what orjson refuses (NaN, huge integers, lone
    surrogates), so that what is dead-lettered, and why, stays the same."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return json.loads(text)


def from_kafka(
    headers: Headers | None,
    value: bytes | None,
    types: EventRegistry,
    key: bytes | None = None,
) -> Envelope:
    """Raises UndecodableMessage for a poison message (UnknownTypeMessage for a type we do
    not know). ``key``, when given, must be the subject: the partition depends on it."""
    if value is None:
        raise UndecodableMessage("a tombstone: the message has no value")
    attrs = headers_dict(headers)
    missing = [h for h in _REQUIRED if h not in attrs]
    if missing:
        raise UndecodableMessage(f"missing CloudEvents headers: {', '.join(missing)}")
    if attrs["ce_specversion"] != SPEC_VERSION:
        raise UndecodableMessage(f"unsupported ce_specversion {attrs['ce_specversion']!r}")
    if key is not None and key != attrs["ce_subject"].encode():
        raise UndecodableMessage("the Kafka key differs from ce_subject")
    try:
        text = value.decode()
    except UnicodeDecodeError as error:
        raise UndecodableMessage(f"the value is not UTF-8: {error}") from error
    try:
        data = _json_value(value, text)
        event_id = UUID(attrs["ce_id"])
        time = datetime.fromisoformat(attrs["ce_time"])
    except (ValueError, RecursionError) as error:
        raise UndecodableMessage(f"{type(error).__name__}: {error}") from error
    if not isinstance(data, dict):
        raise UndecodableMessage("the value is not a JSON object")
    # NUL and lone surrogates can only come in as \u escapes: most texts need no walk.
    if "\\u" in text and (reason := unstorable_text(data)):
        raise UndecodableMessage(reason)
    try:
        event = types.decode(attrs["ce_type"], data)
    except UnknownEventType as error:
        raise UnknownTypeMessage(f"unknown ce_type {attrs['ce_type']!r}") from error
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
