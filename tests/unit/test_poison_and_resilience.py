"""Poison messages are named, stored text is always storable, and loops back off."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.consumer.dead_letters import clean_text, header_arrays, headers_from_arrays
from shared.envelope import UndecodableMessage, UnknownTypeMessage, from_kafka, unstorable_text
from shared.observability import RepeatFilter
from shared.resilience import Backoff, Outage, Supervisor
from tests.sample_events import test_types

SUBJECT = str(uuid.uuid4())


def headers(**override: str | None) -> list[tuple[str, bytes]]:
    base = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_type": "aidport.test.Ping.v1",
        "ce_source": "aidport/test",
        "ce_subject": SUBJECT,
        "ce_time": "2026-01-01T00:00:00+00:00",
    } | override
    return [(k, v.encode()) for k, v in base.items() if v is not None]


def value(**data: object) -> bytes:
    return json.dumps({"shipment_id": SUBJECT, "n": 1} | data).encode()


POISON = {
    "tombstone": (headers(), None, "tombstone"),
    "not JSON": (headers(), b"{nope", "JSONDecodeError"),
    "not UTF-8": (headers(), b'{"n": "\xff\xfe"}', "not UTF-8"),
    "a JSON array": (headers(), b"[1, 2]", "not a JSON object"),
    "missing headers": (headers(ce_id=None, ce_time=None), value(), "ce_id, ce_time"),
    "bad id": (headers(ce_id="nope"), value(), "ValueError"),
    "bad time": (headers(ce_time="yesterday"), value(), "ValueError"),
    "spec version": (headers(ce_specversion="0.3"), value(), "ce_specversion"),
    "header not UTF-8": ([*headers()[:-1], ("ce_time", b"\xff")], value(), "not UTF-8"),
    "NUL in a header": (headers(ce_source="a\x00b"), value(), "NUL"),
    "NUL in the data": (headers(), value(note="a\x00b"), "NUL"),
    "lone surrogate": (headers(), b'{"n": 1, "note": "\\ud800"}', "surrogate"),
    "schema": (headers(), value(n="many"), "aidport.test.Ping.v1"),
    "deep nesting": (headers(), b"[" * 100_000 + b"]" * 100_000, "RecursionError"),
}


@pytest.mark.parametrize("kind", sorted(POISON))
def test_each_kind_of_poison_is_undecodable_with_its_reason(kind: str) -> None:
    raw_headers, raw_value, reason = POISON[kind]
    with pytest.raises(UndecodableMessage, match=reason):
        from_kafka(raw_headers, raw_value, test_types, key=SUBJECT.encode())


def test_a_key_other_than_the_subject_and_an_unknown_type_are_poison() -> None:
    with pytest.raises(UndecodableMessage, match="key differs"):
        from_kafka(headers(), value(), test_types, key=b"another")
    with pytest.raises(UnknownTypeMessage, match="unknown ce_type"):
        from_kafka(headers(ce_type="aidport.nobody.v1"), value(), test_types, key=None)


def test_a_valid_message_decodes() -> None:
    envelope = from_kafka(headers(), value(), test_types, key=SUBJECT.encode())
    assert envelope.subject == SUBJECT


TEXT = st.text(st.characters(exclude_characters="\\"))  # no backslash: JSON escapes are ours


@given(st.recursive(TEXT, lambda inner: st.lists(inner) | st.dictionaries(TEXT, inner)))
def test_unstorable_text_finds_every_nul_and_surrogate(data: object) -> None:
    text = json.dumps(data, ensure_ascii=False).replace("\\u0000", "\x00")
    storable = not any(c == "\x00" or 0xD800 <= ord(c) <= 0xDFFF for c in text)
    assert (unstorable_text(data) is None) == storable


@given(st.text(), st.integers(min_value=1, max_value=2000))
def test_clean_text_is_always_storable(text: str, limit: int) -> None:
    cleaned = clean_text(text, limit)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # never raises: PostgreSQL text accepts it
    assert len(cleaned) <= 4 * limit + 10  # a backslash escape per character at most


@given(st.lists(st.tuples(st.text(), st.binary())))
def test_headers_round_trip_through_bytea_arrays(pairs: list[tuple[str, bytes]]) -> None:
    safe = [(k.encode("utf-8", "replace").decode(), v) for k, v in pairs]
    keys, values = header_arrays(safe)
    assert headers_from_arrays(keys, values) == safe


def test_backoff_doubles_up_to_its_maximum_and_resets() -> None:
    backoff = Backoff(initial=0.5, maximum=3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage(logging.getLogger("test.outage"), "broker")
    with caplog.at_level(logging.WARNING, "test.outage"):
        for _ in range(500):
            outage.failed(ConnectionRefusedError("refused"))
        outage.recovered()
        outage.recovered()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "outage started" in lines[0]
    assert "outage ended after" in lines[1] and "500 failed attempts" in lines[1]


def test_repeated_library_warnings_collapse_to_one_line_per_window() -> None:
    repeat = RepeatFilter(window=60.0)

    def record(created: float, name: str = "aiokafka.conn") -> logging.LogRecord:
        r = logging.LogRecord(name, logging.ERROR, "", 0, "Unable to connect to %s", ("b",), None)
        r.created = created
        return r

    passed = [repeat.filter(record(t)) for t in range(0, 120, 1)]
    assert passed.count(True) == 2  # t=0 and t=60
    last = record(200.0)
    assert repeat.filter(last) and "59 similar lines suppressed" in last.getMessage()
    assert repeat.filter(record(1.0, name="shared.relay"))  # our own lines are never filtered


async def test_a_supervisor_restarts_dead_work_and_counts_each_restart() -> None:
    runs = 0
    restarts: list[int] = []

    async def work() -> None:
        nonlocal runs
        runs += 1
        if runs <= 3:
            raise RuntimeError(f"crash {runs}")
        await asyncio.sleep(3600)

    supervisor = Supervisor(
        "test work", work, on_restart=lambda: restarts.append(1), backoff=Backoff(0.01, 0.02)
    )
    task = asyncio.create_task(supervisor.run())
    try:
        async with asyncio.timeout(10):
            while runs < 4:
                await asyncio.sleep(0.01)
        assert supervisor.restarts == len(restarts) == 3
        assert supervisor.last_error == "RuntimeError: crash 3"
        assert not task.done()
    finally:
        task.cancel()
