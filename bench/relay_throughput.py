"""Benchmark: concurrent appends to the event store and the relay publishing them to Kafka.

Run: ``.venv/bin/python -m bench.relay_throughput [writers] [events_per_writer]``.
Starts its own PostgreSQL and Kafka in a temporary folder and prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from shared.infra.kafka_broker import KafkaBroker, create_topics, ensure_kafka_jars, free_port
from shared.infra.postgres import EmbeddedPostgres
from shared.migrations import migrate
from tests.integration.kit import make_relay, write_streams

ROOT = Path(__file__).resolve().parents[1]


async def measure(database: str, bootstrap: str, writers: int, per_writer: int) -> None:
    topic = f"bench{uuid.uuid4().hex[:6]}.events"
    await create_topics(bootstrap, [topic], partitions=6)
    pool = await asyncpg.create_pool(database, min_size=writers, max_size=writers + 2)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn)
    total = writers * per_writer

    started = time.perf_counter()
    await write_streams(pool, writers, per_writer, batch=1)
    appended = time.perf_counter() - started
    print(
        f"append: {total} events, {writers} writers, 1 event per transaction: "
        f"{appended:.2f}s ({total / appended:,.0f} events/s)"
    )

    relay = asyncio.create_task(make_relay(database, topic, bootstrap).run())
    started = time.perf_counter()
    while await pool.fetchval("SELECT coalesce(max(position), 0) FROM relay_checkpoints") < total:
        await asyncio.sleep(0.05)
    published = time.perf_counter() - started
    relay.cancel()
    print(
        f"relay: {total} events published and acknowledged in {published:.2f}s "
        f"({total / published:,.0f} events/s)"
    )
    await pool.close()


def main() -> None:
    writers = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    per_writer = int(sys.argv[2]) if len(sys.argv) > 2 else 250
    with tempfile.TemporaryDirectory() as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        postgres.start()
        broker = KafkaBroker(Path(tmp) / "kafka", free_port(), free_port(), ensure_kafka_jars(ROOT))
        broker.start()
        try:
            postgres.create_database("bench")
            asyncio.run(
                measure(
                    postgres.database_url("bench"), broker.bootstrap_servers, writers, per_writer
                )
            )
        finally:
            broker.stop()
            postgres.stop()


if __name__ == "__main__":
    main()
