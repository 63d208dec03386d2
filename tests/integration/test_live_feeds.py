"""The live feeds on the real database: a NOTIFY reaches an open stream, and a replica
refuses a stream beyond ``AIDPORT_MAX_LIVE_READERS`` with a 503 until one closes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest
from fastapi import FastAPI

from services.reporting import api, pages
from services.reporting.main import SPEC
from services.reporting.projections import REPORTING_CHANNEL
from shared.http.app import create_app
from shared.http.problems import RETRY_AFTER_SECONDS
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.settings import all_topics
from tests.e2e.stack import until
from tests.integration.apps import bearer, serving, settings_for

pytestmark = pytest.mark.integration
STREAM = "/api/v1/dashboard/stream"


class RawStream:
    """One streamed GET through the app's ASGI interface, read as it comes (an in-memory
    client would wait for the end of an endless response); ``close`` disconnects."""

    def __init__(self, app: FastAPI, headers: dict[str, str]) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self._started = asyncio.Event()
        self._closed = asyncio.Event()
        self._asked = False
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": STREAM,
            "raw_path": STREAM.encode(),
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
            "root_path": "",
            "app": app,
        }
        self._task = asyncio.create_task(app(scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._closed.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message["headers"]}
            self._started.set()
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def started(self) -> RawStream:
        async with asyncio.timeout(30):
            await self._started.wait()
        return self

    async def close(self) -> None:
        self._closed.set()
        async with asyncio.timeout(30):
            await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
async def reporting(database: str, kafka: KafkaBroker) -> AsyncIterator[tuple[FastAPI, Any]]:
    prefix = f"live{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("reporting", database, kafka.bootstrap_servers, prefix)
    settings = settings.model_copy(update={"max_live_readers": 1})
    app = create_app(SPEC, settings, [api.router, pages.router])
    async with serving(app):
        await until(lambda: _listening(database), timeout=30)
        yield app, settings


async def _listening(database: str) -> bool:
    conn = await asyncpg.connect(database)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
            " AND datname = current_database()",
            api.feed.name,
        )
        return bool(count)
    finally:
        await conn.close()


async def test_a_notify_reaches_the_stream_and_a_full_replica_refuses_the_next(
    reporting: tuple[FastAPI, Any], database: str
) -> None:
    app, settings = reporting
    headers = bearer("viewer", settings)
    first = await RawStream(app, headers).started()
    assert first.status == 200 and first.headers["content-type"].startswith("text/event-stream")
    await until(lambda: _has(first, b"retry: 3000"))

    refused = await RawStream(app, headers).started()
    await refused.close()
    assert refused.status == 503, refused.body
    assert refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    problem = orjson.loads(refused.body)
    assert problem["type"].endswith("/live-feeds-full") and problem["status"] == 503

    await _notify(database, "shipment-42")
    await until(lambda: _has(first, b'event: changed\ndata: {"shipment_id": "shipment-42"}'))

    # The LISTEN connection dies: the feed reconnects and wakes its readers, which may have
    # missed changes meanwhile; changes reach them again after that.
    await _terminate_listener(database)
    await until(lambda: _has(first, b'event: changed\ndata: {"shipment_id": ""}'), timeout=30)
    await until(lambda: _listening(database), timeout=30)
    await _notify(database, "shipment-43")
    await until(lambda: _has(first, b'data: {"shipment_id": "shipment-43"}'))

    await first.close()
    again = await RawStream(app, headers).started()
    assert again.status == 200
    await again.close()


async def _has(stream: RawStream, text: bytes) -> bool:
    return text in stream.body


async def _notify(database: str, subject: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("SELECT pg_notify($1, $2)", REPORTING_CHANNEL, subject)
    finally:
        await conn.close()


async def _terminate_listener(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1"
            " AND datname = current_database()",
            api.feed.name,
        )
    finally:
        await conn.close()
