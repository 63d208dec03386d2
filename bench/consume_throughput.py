"""Benchmark: consumer catch-up into customs' reaction, asyncpg executemany, and rebuild.

Run: ``.venv/bin/python -m bench.consume_throughput [events] [rebuild_events]``.
Starts its own PostgreSQL and Kafka in a temporary folder and prints figures; asserts nothing.

- catch-up: ``events`` intake-shaped ``ShipmentAnnounced`` records are produced to intake's
  topic, then customs' real consumer (``ConsumerRunner`` + ``services.customs.reactions``:
  decode, dedupe, decide, append, project, offsets) is timed from its assignment until
  every offset is stored;
- baseline: the same number of ``clearance_cases``-shaped rows inserted with asyncpg
  ``executemany`` in one transaction, in the same run;
- floor: the same messages read again by ``bench.bare_consumer`` (aiokafka and asyncpg with
  nothing between them), in the same run;
- rebuild: customs' store is filled to ``rebuild_events`` events and its projections
  rebuilt (``shared.projections.rebuild``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.bare_consumer import drain
from services.customs import domain
from services.customs.application import cases
from services.customs.main import SPEC
from services.customs.reactions import reaction
from shared.consumer import ConsumerRunner
from shared.consumer.unit_of_work import BatchUnitOfWork, StreamCommand
from shared.contracts.intake import ShipmentAnnounced
from shared.contracts.values import Category, Channel, LineItem, Lot, Storage, Unit
from shared.db import create_pool
from shared.envelope import to_kafka
from shared.eventstore import EventStore, RecordedEvent
from shared.infra.kafka_broker import KafkaBroker, create_topics, ensure_kafka_jars, free_port
from shared.infra.postgres import EmbeddedPostgres
from shared.migrations import migrate
from shared.projections import rebuild
from shared.runtime import Runtime
from shared.settings import load_settings, topic_of

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC)


def announcement() -> ShipmentAnnounced:
    lots = (Lot(lot_number="A1", expiry_date=NOW.date(), quantity=1000),)
    line = LineItem(
        line_no=1,
        product="Vaxzevria (AstraZeneca)",
        category=Category.VACCINE,
        unit=Unit.DOSES,
        pack_size=10,
        quantity=1000,
        storage=Storage.COLD_2_8,
        lots=lots,
    )
    return ShipmentAnnounced(
        shipment_id=uuid.uuid4(),
        donor="COVAX",
        channel=next(iter(Channel)),
        airport="HAN",
        flight="VN0317",
        airway_bill="738-1",
        expected_arrival=NOW,
        consignee="NIHE",
        lines=(line,),
    )


async def produce(bootstrap: str, topic: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    await producer.start()
    try:
        futures = []
        for position in range(1, count + 1):
            event = announcement()
            recorded = RecordedEvent(
                position=position,
                stream_id=str(event.shipment_id),
                stream_version=1,
                event_id=uuid.uuid4(),
                event_type=event.event_type,
                data=event.to_data(),
                metadata={"correlation_id": f"c-{position}", "actor": "bench"},
                recorded_at=NOW,
            )
            record = to_kafka(recorded, "aidport/intake")
            futures.append(
                await producer.send(topic, record.value, record.key, headers=record.headers)
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def customs_runtime(database: str) -> Runtime:
    runtime = Runtime(SPEC, load_settings("customs").model_copy(update={"database_url": database}))
    runtime.store = EventStore("customs")
    return runtime


async def catch_up(pool: asyncpg.Pool, bootstrap: str, count: int) -> float:
    topic = topic_of("intake", "bench")
    await create_topics(bootstrap, [topic], partitions=3)
    await produce(bootstrap, topic, count)
    runner = ConsumerRunner(
        group="bench-customs",
        topics=[topic],
        bootstrap_servers=bootstrap,
        pool=pool,
        handler=reaction(customs_runtime("")),
    )
    task = asyncio.create_task(runner.run())
    await runner.ready.wait()
    started = time.perf_counter()
    stored = "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets"
    while await pool.fetchval(stored) < count:
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return count / elapsed


async def executemany_baseline(pool: asyncpg.Pool, count: int) -> float:
    await pool.execute(
        "CREATE TABLE baseline (shipment_id uuid PRIMARY KEY, airport text, donor text,"
        " channel text, airway_bill text, expected_arrival timestamptz, status text,"
        " lines jsonb, opened_at timestamptz, last_position bigint)"
    )
    lines = json.dumps(announcement().to_data()["lines"])
    rows = [
        (uuid.uuid4(), "HAN", "COVAX", "covax", "738-1", NOW, "new", lines, NOW, i)
        for i in range(count)
    ]
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            "INSERT INTO baseline VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", rows
        )
    return count / (time.perf_counter() - started)


async def fill_store(pool: asyncpg.Pool, database: str, total: int) -> None:
    uow = BatchUnitOfWork(cases(customs_runtime(database)))
    have = await pool.fetchval("SELECT count(*) FROM events")
    while have < total:
        size = min(2000, total - have)
        commands: list[StreamCommand[domain.Command]] = []
        for _ in range(size):
            opened = domain.OpenCase.from_announcement(announcement())
            commands.append(StreamCommand(str(opened.shipment_id), opened, {"actor": "bench"}))
        async with pool.acquire() as conn, conn.transaction():
            await uow.run(conn, commands)
        have += size


async def measure(database: str, bootstrap: str, events: int, rebuild_events: int) -> None:
    pool = await create_pool(database, min_size=2, max_size=6)
    async with pool.acquire() as conn:
        await migrate(conn)
        await migrate(conn, SPEC.migrations)
    rate = await catch_up(pool, bootstrap, events)
    baseline = await executemany_baseline(pool, events)
    async with pool.acquire() as conn:
        bare = await drain(conn, bootstrap, topic_of("intake", "bench"), events)
    print(f"catch-up into customs: {events} events, {rate:,.0f} events/s")
    print(f"asyncpg executemany:   {events} rows, {baseline:,.0f} rows/s")
    print(f"ratio:                 {rate / baseline:.3f}")
    print(f"bare consumer:         {bare['messages']} messages, {bare['messages_per_s']:,} /s")
    print(f"ratio:                 {rate / bare['messages_per_s']:.3f}")
    await fill_store(pool, database, rebuild_events)
    total = await pool.fetchval("SELECT count(*) FROM events")
    started = time.perf_counter()
    replayed = await rebuild(pool, EventStore("customs"), SPEC.projections)
    elapsed = time.perf_counter() - started
    print(f"rebuild: {replayed} events in {elapsed:.2f}s, {replayed / elapsed:,.0f} events/s")
    assert replayed == total
    await pool.close()


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rebuild_events = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        postgres.start()
        broker = KafkaBroker(Path(tmp) / "kafka", free_port(), free_port(), ensure_kafka_jars(ROOT))
        broker.start()
        try:
            postgres.create_database("bench")
            url = postgres.database_url("bench")
            asyncio.run(measure(url, broker.bootstrap_servers, events, rebuild_events))
        finally:
            broker.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
