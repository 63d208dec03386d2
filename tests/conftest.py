"""Session infrastructure: one real Kafka broker and one real PostgreSQL for the whole run.

Both start lazily, only when a test asks for them, on free ports and in a temporary folder.
Pure unit tests therefore run without any infrastructure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.db import create_pool
from shared.infra.kafka_broker import KafkaBroker, create_topics, ensure_kafka_jars, free_port
from shared.infra.postgres import EmbeddedPostgres
from shared.migrations import migrate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(
        data_dir=tmp_path_factory.mktemp("kafka"),
        port=free_port(),
        controller_port=free_port(),
        libs_dir=ensure_kafka_jars(ROOT),
    )
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def database(postgres: EmbeddedPostgres) -> str:
    """A fresh, empty database for one test; returns its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    return postgres.database_url(name)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with the event-sourcing kit's tables."""
    created = await create_pool(database, min_size=1, max_size=30)
    async with created.acquire() as conn:
        await migrate(conn)
    yield created
    await created.close()


@pytest.fixture
async def topic(kafka: KafkaBroker) -> str:
    """A fresh event topic (and its DLQ) for one test."""
    name = f"aidport.test{uuid.uuid4().hex[:8]}.events"
    await create_topics(kafka.bootstrap_servers, [name, f"{name}.dlq"], partitions=6)
    return name


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("AIDPORT_LOG_LEVEL", "WARNING")
