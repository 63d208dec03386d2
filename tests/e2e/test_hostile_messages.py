"""1,000 malformed Kafka messages of mixed kinds into each topic a consumer reads; each
ends as a dead letter with a reason, the consumers stay ready, and a normal consignment
flows through afterwards. (Allocation's own topic has no consumer in the system.)"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.reference_data import province_codes
from shared.settings import topic_of
from tests.e2e.flows import allocation_round, announce_and_arrive, fast_track, inbox
from tests.e2e.stack import Stack, until
from tests.kafka_helpers import read_topic

pytestmark = pytest.mark.e2e
PER_TOPIC = 1000
MAX_MESSAGE_BYTES = 64 * 1024  # the consumers' limit in this test; "oversized" is above it
# The topic each consumer reads, the service that consumes it, and a real type in it.
TARGETS = {
    "intake": ("customs", "aidport.intake.ShipmentAnnounced.v1"),
    "customs": ("allocation", "aidport.customs.ClearedFastTrack.v1"),
}
KINDS = (
    "no headers",
    "missing ce_id",
    "bad ce_id",
    "bad ce_time",
    "unknown ce_type",
    "key differs from subject",
    "fails its schema",
    "NUL in a string",
    "lone surrogate",
    "value not UTF-8",
    "header not UTF-8",
    "not JSON",
    "a JSON array",
    "tombstone",
    "oversized",
    "wrong specversion",
)

Message = tuple[bytes, bytes | None, list[tuple[str, bytes]]]


def malformed(kind: str, event_type: str) -> Message:
    subject = str(uuid.uuid4())
    attrs = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_type": event_type,
        "ce_source": "aidport/hostile",
        "ce_subject": subject,
        "ce_time": "2026-01-01T00:00:00+00:00",
    }
    data: dict[str, Any] = {"shipment_id": subject}
    value: bytes | None = None
    key = subject.encode()
    match kind:
        case "no headers":
            attrs = {}
        case "missing ce_id":
            del attrs["ce_id"]
        case "bad ce_id":
            attrs["ce_id"] = "not-a-uuid"
        case "bad ce_time":
            attrs["ce_time"] = "9999-99-99"
        case "unknown ce_type":
            attrs["ce_type"] = "aidport.hostile.Unknown.v1"
        case "key differs from subject":
            key = b"someone-else"
        case "NUL in a string":
            data["consignee"] = "Ministry\x00of Health"
        case "lone surrogate":
            value = b'{"shipment_id": "%s", "donor": "\\ud800"}' % subject.encode()
        case "value not UTF-8":
            value = b'{"donor": "\xc3\x28"}'
        case "not JSON":
            value = b"{this is not json"
        case "a JSON array":
            value = b"[1, 2, 3]"
        case "oversized":
            data["donor"] = "x" * (MAX_MESSAGE_BYTES + 1000)
        case "wrong specversion":
            attrs["ce_specversion"] = "0.3"
    headers = [(k, v.encode()) for k, v in attrs.items()]
    if kind == "header not UTF-8":
        headers.append(("ce_actor", b"\xff\xfe"))
    if kind == "tombstone":
        return key, None, headers
    return key, value if value is not None else json.dumps(data).encode(), headers


async def _produce(bootstrap: str, topic: str, event_type: str) -> Counter[str]:
    sent: Counter[str] = Counter()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        acks = []
        for i in range(PER_TOPIC):
            kind = KINDS[i % len(KINDS)]
            key, value, headers = malformed(kind, event_type)
            acks.append(await producer.send(topic, value, key=key, headers=headers))
            sent[kind] += 1
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    return sent


async def _dead_letters(url: str, topic: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(
            "SELECT reason, dlq_published FROM dead_letters WHERE topic = $1", topic
        )
    finally:
        await conn.close()


async def test_a_thousand_malformed_messages_per_topic_stop_nothing(stack: Stack) -> None:
    stack.env["AIDPORT_CONSUMER_MAX_MESSAGE_BYTES"] = str(MAX_MESSAGE_BYTES)
    stack.start()
    bootstrap = stack.kafka.bootstrap_servers
    started = time.perf_counter()
    topics = {name: topic_of(name, stack.prefix) for name in TARGETS}
    for name, (_, event_type) in TARGETS.items():
        assert sum((await _produce(bootstrap, topics[name], event_type)).values()) == PER_TOPIC

    for name, (consumer, _) in TARGETS.items():
        url = stack.env[f"{consumer.upper()}_DATABASE_URL"]

        async def all_dead(url: str = url, topic: str = topics[name]) -> list[Any] | None:
            rows = await _dead_letters(url, topic)
            return rows if len(rows) >= PER_TOPIC else None

        rows = await until(all_dead, timeout=120, interval=0.5)
        assert len(rows) == PER_TOPIC  # each exactly once, none silently dropped
        assert all(r["reason"] for r in rows)
        reasons = Counter(r["reason"].split(":")[0][:40] for r in rows)
        dlq = await read_topic(bootstrap, f"{topics[name]}.dlq")
        published = sum(r["dlq_published"] for r in rows)
        assert len(dlq) >= published  # a redelivery may copy one twice, never lose one
        assert all(dict(m.headers).get("dlq_reason") for m in dlq)
        print(
            f"\n{topics[name]} -> {consumer}: {len(rows)} dead letters"
            f" ({published} copied to the DLQ) after {time.perf_counter() - started:.1f}s;"
            f" reasons: {dict(reasons)}"
        )

    async with httpx.AsyncClient(timeout=30) as client:
        for service in ("intake", "customs", "allocation"):
            ready = await client.get(f"{stack.url(service)}/health/ready")
            assert ready.status_code == 200, ready.text

        shipment = await announce_and_arrive(stack, client, "738-20000001")
        shipment_id = shipment["shipment_id"]
        assert (await fast_track(stack, client, shipment_id)).status_code == 200
        await until(lambda: allocation_round(stack, client, shipment_id))
        for code in province_codes():
            await until(lambda code=code: _has_notice(stack, client, code, shipment_id))
        assert len(province_codes()) == 34
    print(f"normal consignment through, {time.perf_counter() - started:.1f}s in all")


async def _has_notice(stack: Stack, client: httpx.AsyncClient, code: str, shipment: str) -> bool:
    response = await inbox(stack, client, code)
    return response.status_code == 200 and any(
        n["shipment_id"] == shipment for n in response.json()["items"]
    )
