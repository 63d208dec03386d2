"""The relay against a broker that refuses one event for good (a topic with a small
``max.message.bytes``): that event is quarantined, the later events of its stream are held,
every other stream goes on; a retry after the limit is raised publishes them in order."""

from __future__ import annotations

import uuid
from collections import defaultdict

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.eventstore import EventStore, NewEvent
from tests.conftest import KafkaBroker
from tests.integration.kit import eventually, make_relay, running
from tests.kafka_helpers import read_topic
from tests.sample_events import Note, ping

pytestmark = pytest.mark.integration
LIMIT = 50_000  # the topic's max.message.bytes; the big event is twice as large


async def _topic_with_limit(bootstrap: str, limit: int) -> str:
    name = f"aidport.small{uuid.uuid4().hex[:8]}.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        config = {"retention.ms": "-1", "max.message.bytes": str(limit)}
        # One partition: the refused record and every other stream share its sequence numbers.
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs=config)])
    finally:
        await admin.close()
    return name


async def _raise_limit(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": "1048588"}
        )
        await admin.alter_configs([resource])
    finally:
        await admin.close()


async def _append(pool: asyncpg.Pool, stream: uuid.UUID, version: int, event: NewEvent) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await EventStore("test").append(conn, str(stream), version, [event])


def _note(stream: uuid.UUID, size: int) -> NewEvent:
    return NewEvent(Note(shipment_id=stream, text="x" * size))


async def _checkpoint_at_head(pool: asyncpg.Pool) -> bool:
    head = await EventStore("test").head(pool)
    checkpoint = await pool.fetchval("SELECT position FROM relay_checkpoints WHERE relay = 'test'")
    return bool(checkpoint == head)


async def _versions_in_kafka(bootstrap: str, topic: str) -> dict[str, list[int]]:
    versions: dict[str, list[int]] = defaultdict(list)
    for m in await read_topic(bootstrap, topic):
        versions[m.key.decode()].append(int(dict(m.headers)["ce_streamversion"]))
    return versions


async def test_a_refused_event_is_quarantined_its_stream_held_and_others_go_on(
    pool: asyncpg.Pool, database: str, kafka: KafkaBroker
) -> None:
    topic = await _topic_with_limit(kafka.bootstrap_servers, LIMIT)
    blocked, other = uuid.uuid4(), uuid.uuid4()
    await _append(pool, blocked, 0, ping(blocked, 0))
    await _append(pool, blocked, 1, _note(blocked, 2 * LIMIT))  # refused by the broker
    await _append(pool, blocked, 2, ping(blocked, 2))
    for v in range(5):
        await _append(pool, other, v, ping(other, v))

    relay = make_relay(database, topic, kafka.bootstrap_servers)
    async with running(relay.run()):
        await eventually(lambda: _checkpoint_at_head(pool))
        await _append(pool, blocked, 3, ping(blocked, 3))  # later: held too
        await _append(pool, other, 5, ping(other, 5))
        await eventually(lambda: _checkpoint_at_head(pool))

        versions = await _versions_in_kafka(kafka.bootstrap_servers, topic)
        assert versions[str(other)] == [1, 2, 3, 4, 5, 6]
        assert versions[str(blocked)] == [1]
        rows = await pool.fetch("SELECT * FROM relay_quarantine ORDER BY position")
        assert [(r["state"], r["resolved_at"]) for r in rows] == [
            ("quarantined", None),
            ("held", None),
            ("held", None),
        ]
        assert "MessageSizeTooLarge" in rows[0]["reason"]
        assert {r["stream_id"] for r in rows} == {str(blocked)}

        # A retry before the limit is raised is refused again: nothing moves.
        await pool.execute(
            "UPDATE relay_quarantine SET requested = 'retry' WHERE id = $1", rows[0]["id"]
        )
        await pool.execute("NOTIFY aidport_events")
        await eventually(lambda: _attempts(pool, rows[0]["id"], 2))
        assert (await _versions_in_kafka(kafka.bootstrap_servers, topic))[str(blocked)] == [1]

        await _raise_limit(kafka.bootstrap_servers, topic)
        await pool.execute(
            "UPDATE relay_quarantine SET requested = 'retry' WHERE id = $1", rows[0]["id"]
        )
        await pool.execute("NOTIFY aidport_events")
        await eventually(lambda: _open_entries(pool, 0))
        await _append(pool, blocked, 4, ping(blocked, 4))  # the stream flows again
        await eventually(lambda: _checkpoint_at_head(pool))

    versions = await _versions_in_kafka(kafka.bootstrap_servers, topic)
    assert versions[str(blocked)] == [1, 2, 3, 4, 5]  # in order, none twice
    assert versions[str(other)] == [1, 2, 3, 4, 5, 6]
    resolutions = await pool.fetch("SELECT resolution FROM relay_quarantine")
    assert {r["resolution"] for r in resolutions} == {"published"}


async def test_a_skipped_event_is_never_published_and_the_held_ones_are(
    pool: asyncpg.Pool, database: str, kafka: KafkaBroker
) -> None:
    topic = await _topic_with_limit(kafka.bootstrap_servers, LIMIT)
    stream = uuid.uuid4()
    await _append(pool, stream, 0, _note(stream, 2 * LIMIT))
    await _append(pool, stream, 1, ping(stream, 1))
    relay = make_relay(database, topic, kafka.bootstrap_servers)
    async with running(relay.run()):
        await eventually(lambda: _checkpoint_at_head(pool))
        await eventually(lambda: _open_entries(pool, 2))
        await pool.execute(
            "UPDATE relay_quarantine SET requested = 'skip', skip_reason = 'test'"
            " WHERE state = 'quarantined'"
        )
        await pool.execute("NOTIFY aidport_events")
        await eventually(lambda: _open_entries(pool, 0))
    versions = await _versions_in_kafka(kafka.bootstrap_servers, topic)
    assert versions[str(stream)] == [2]
    rows = await pool.fetch("SELECT state, resolution FROM relay_quarantine ORDER BY position")
    assert [(r["state"], r["resolution"]) for r in rows] == [
        ("quarantined", "skipped"),
        ("held", "published"),
    ]


async def _attempts(pool: asyncpg.Pool, entry: int, attempts: int) -> bool:
    found = await pool.fetchval("SELECT attempts FROM relay_quarantine WHERE id = $1", entry)
    return bool(found == attempts)


async def _open_entries(pool: asyncpg.Pool, count: int) -> bool:
    found = await pool.fetchval("SELECT count(*) FROM relay_quarantine WHERE resolved_at IS NULL")
    return bool(found == count)
