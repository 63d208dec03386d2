"""How many statements a command sends to PostgreSQL: counted on the real database.

An announcement, with and without an Idempotency-Key, runs in one transaction: the claim of
the key, the append (a new stream: no load before it), the projection update, the read of
the response and the record of the key; no table lock, no NOTIFY, no separate version
check, and no reset query when the connection goes back to the pool.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

import shared.db
from services.intake import api, pages
from services.intake.main import SPEC
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.settings import Settings, all_topics
from tests.e2e.flows import vaccine_consignment
from tests.integration.apps import bearer, serving, settings_for

pytestmark = pytest.mark.integration


@dataclass
class Statements:
    """Every statement sent on the service's connections, by connection."""

    sent: list[tuple[int, str]] = field(default_factory=list)

    def clear(self) -> None:
        self.sent.clear()

    def transaction_with(self, marker: str) -> list[str]:
        """The statements between BEGIN and COMMIT of the transaction that sent ``marker``."""
        open_by: dict[int, list[str]] = {}
        for conn, query in self.sent:
            text = " ".join(query.split())
            if text.startswith("BEGIN"):
                open_by[conn] = []
            elif text.startswith(("COMMIT", "ROLLBACK")) and conn in open_by:
                inside = open_by.pop(conn)
                if any(marker in q for q in inside):
                    return inside
            elif conn in open_by:
                open_by[conn].append(text)
        raise AssertionError(f"no transaction sent {marker!r}: {self.sent}")


@pytest.fixture
async def intake(
    monkeypatch: pytest.MonkeyPatch, database: str, kafka: KafkaBroker
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings, Statements]]:
    statements = Statements()
    registered = shared.db.init_connection

    async def counting(conn: asyncpg.Connection) -> None:
        await registered(conn)
        conn.add_query_logger(lambda q: statements.sent.append((id(conn), q.query)))

    monkeypatch.setattr(shared.db, "init_connection", counting)
    prefix = f"st{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("intake", database, kafka.bootstrap_servers, prefix)
    async with serving(create_app(SPEC, settings, [api.router, pages.router])) as client:
        yield client, settings, statements


def _kinds(statements: list[str]) -> list[str]:
    """Names each statement of a command's transaction by its job."""
    kinds = {
        "idempotency_keys": "idempotency",
        "INSERT INTO events": "append",
        "FROM events WHERE stream_id": "load",
        "INSERT INTO shipments": "projection",
        "FROM shipments": "response",
    }
    return [next((k for m, k in kinds.items() if m in s), s) for s in statements]


async def _announce(client: httpx.AsyncClient, settings: Settings, key: str | None) -> None:
    headers = bearer("intake.han", settings) | ({"Idempotency-Key": key} if key else {})
    body: dict[str, Any] = vaccine_consignment(f"618-{uuid.uuid4().int % 10**7:07d}0")
    response = await client.post("/api/v1/shipments", json=body, headers=headers)
    assert response.status_code == 201, response.text


async def test_an_announcement_takes_the_append_the_projection_and_the_key(intake: Any) -> None:
    client, settings, statements = intake
    await _announce(client, settings, key=None)  # warms the pool up

    statements.clear()
    await _announce(client, settings, key=None)
    plain = _kinds(statements.transaction_with("INSERT INTO events"))
    assert plain == ["append", "projection", "response"]

    statements.clear()
    await _announce(client, settings, key=f"k-{uuid.uuid4()}")
    keyed = _kinds(statements.transaction_with("INSERT INTO events"))
    assert keyed == ["idempotency", "append", "projection", "response", "idempotency"]
    assert not [q for _, q in statements.sent if "RESET ALL" in q]  # no reset on release
