"""Every query the API and the pages run has an index plan on large tables.

The three services run in-process on the real database and broker. One consignment goes
through the whole flow, then its rows are cloned into tens of thousands per table and the
tables are ANALYZEd. Every read endpoint is then called, the SQL each one actually executes
is captured (asyncpg's query logger, wherever the SQL lives), and each statement is
EXPLAINed with its own arguments: a sequential scan over a large table fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.allocation import queries as allocation_queries
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.infra.postgres import EmbeddedPostgres
from shared.settings import SERVICES, all_topics, load_settings
from tests.e2e.flows import arrival_of, vaccine_consignment
from tests.integration.apps import bearer, serving

pytestmark = pytest.mark.integration

CLONES = 30_000  # rows per projection table: enough for the planner to prefer an index
LARGE = 10_000  # a table with at least this many rows must not be scanned sequentially
SHARED_PREFIXES = ("/health", "/metrics", "/docs", "/openapi", "/static", "/login", "/logout")
SHARED_PREFIXES += ("/admin", "/api/v1/admin", "/api/v1/auth", "/api/v1/ops", "/redoc")


@dataclass
class Captured:
    """The statements executed on the services' connections while ``on`` is true."""

    on: bool = False
    statements: dict[str, list[tuple[str, tuple[Any, ...]]]] = field(default_factory=dict)

    def record(self, service: str, query: str, args: tuple[Any, ...]) -> None:
        single = ";" not in query.strip().rstrip(";")  # not asyncpg's own reset script
        if self.on and single and query.lstrip()[:6].upper() in ("SELECT", "WITH ("):
            self.statements.setdefault(service, []).append((query, args))


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Captured:
    """Every connection asyncpg opens from now on reports its queries (public query logger)."""
    seen = Captured()
    original = asyncpg.Connection.__init__

    def log(record: Any) -> None:
        service = str(record.conn_params.database).rsplit("_", 1)[-1]  # <prefix>_<service>
        seen.record(service, record.query, tuple(record.args))

    def init(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.add_query_logger(log)

    monkeypatch.setattr(asyncpg.Connection, "__init__", init)
    return seen


@pytest.fixture
async def apps(
    postgres: EmbeddedPostgres,
    kafka: KafkaBroker,
    monkeypatch: pytest.MonkeyPatch,
    captured: Captured,
) -> AsyncIterator[dict[str, tuple[FastAPI, httpx.AsyncClient]]]:
    prefix = f"qp{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    for name in SERVICES:
        database = f"{prefix}_{name}"
        postgres.create_database(database)
        monkeypatch.setenv(f"{name.upper()}_DATABASE_URL", postgres.database_url(database))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap_servers)
    monkeypatch.setenv("AIDPORT_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("AIDPORT_ENV", "development")
    monkeypatch.setenv("AIDPORT_DEMO_USERS", "true")
    async with contextlib.AsyncExitStack() as stack:
        running = {}
        for name in SERVICES:
            app = _service_app(name)
            running[name] = (app, await stack.enter_async_context(serving(app)))
        yield running


def _service_app(name: str) -> FastAPI:
    module = __import__(f"services.{name}.main", fromlist=["create"])
    app: FastAPI = module.create()
    return app


def _auth(user: str, service: str) -> dict[str, str]:
    return bearer(user, load_settings(service))


async def _until(probe: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await probe():
            return result
        await asyncio.sleep(0.2)
    raise TimeoutError("the consignment did not reach the next service in time")


async def _one_consignment(apps: dict[str, tuple[FastAPI, httpx.AsyncClient]]) -> str:
    """Announce, arrive, fast-track: one row in each projection, through the real flow."""
    intake, customs, allocation = (apps[n][1] for n in SERVICES)
    body = vaccine_consignment("618-77700001")
    shipment = (
        await intake.post("/api/v1/shipments", json=body, headers=_auth("intake.han", "intake"))
    ).json()
    shipment_id = shipment["shipment_id"]
    arrived = await intake.post(
        f"/api/v1/shipments/{shipment_id}/arrival",
        json=arrival_of(shipment),
        headers=_auth("intake.han", "intake"),
    )
    assert arrived.status_code == 200, arrived.text
    case_path = f"/api/v1/clearances/{shipment_id}"

    async def case_arrived() -> bool:
        response = await customs.get(case_path, headers=_auth("customs.han", "customs"))
        return response.status_code == 200 and response.json()["status"] == "arrived"

    await _until(case_arrived)
    cleared = await customs.post(
        f"{case_path}/fast-track",
        json={"declaration_number": "D1", "lane": "green", "examination": "none"},
        headers=_auth("customs.han", "customs"),
    )
    assert cleared.status_code == 200, cleared.text

    async def notices_recorded() -> bool:
        round_ = await allocation.get(
            f"/api/v1/rounds/{shipment_id}", headers=_auth("allocation.moh", "allocation")
        )
        return round_.status_code == 200

    await _until(notices_recorded)
    return str(shipment_id)


# Each clone of the seed row gets its own key and spread-out orderings and statuses. The
# record is built in FROM: `(f(...)).*` in the select list calls f once per column.
CLONE_SQL = {
    "intake": [
        """INSERT INTO shipments SELECT clone.*
           FROM shipments s, generate_series(1, $1) g,
                jsonb_populate_record(NULL::shipments, to_jsonb(s) || jsonb_build_object(
                    'shipment_id', gen_random_uuid(),
                    'airport', (ARRAY['HAN','SGN','DAD'])[1 + g % 3],
                    'status', (ARRAY['announced','arrived'])[1 + g % 2],
                    'announced_at', s.announced_at - make_interval(mins => g))) AS clone"""
    ],
    "customs": [
        """INSERT INTO clearance_cases SELECT clone.*
           FROM clearance_cases c, generate_series(1, $1) g,
                jsonb_populate_record(NULL::clearance_cases, to_jsonb(c) || jsonb_build_object(
                    'shipment_id', gen_random_uuid(),
                    'airport', (ARRAY['HAN','SGN','DAD'])[1 + g % 3],
                    'status', (ARRAY['awaiting_arrival','arrived','cleared','closed'])[1 + g % 4],
                    'opened_at', c.opened_at - make_interval(mins => g),
                    'expected_arrival', c.expected_arrival - make_interval(mins => g),
                    'arrived_at', c.arrived_at - make_interval(mins => g),
                    'cleared_at', c.cleared_at - make_interval(mins => g))) AS clone"""
    ],
    "allocation": [
        """INSERT INTO notices SELECT clone.*
           FROM notices n, generate_series(1, $1 / 34) g,
                jsonb_populate_record(NULL::notices, to_jsonb(n) || jsonb_build_object(
                    'notice_number', n.notice_number || '-' || g,
                    'shipment_id', md5(g::text)::uuid, 'round_id', n.round_id || '-' || g,
                    'status', (ARRAY['issued','acknowledged'])[1 + g % 2],
                    'product', CASE WHEN g % 20 = 0 THEN n.product ELSE 'product ' || g % 20 END,
                    'position', n.position + 100 * g)) AS clone""",
        """INSERT INTO allocation_rounds SELECT clone.*
           FROM allocation_rounds r, generate_series(1, $1) g,
                jsonb_populate_record(NULL::allocation_rounds, to_jsonb(r) || jsonb_build_object(
                    'round_id', r.round_id || '-' || g,
                    'shipment_id', md5(g::text)::uuid,
                    'decided_at', r.decided_at - make_interval(mins => g))) AS clone""",
    ],
}


async def _fill(service: str) -> None:
    conn = await asyncpg.connect(load_settings(service).database_url)
    try:
        for statement in CLONE_SQL[service]:
            await conn.execute(statement, CLONES)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _reads(shipment_id: str) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """(user, path, query parameters) of every read endpoint, with each filter it takes."""
    round_id = f"R-{uuid.UUID(shipment_id).hex.upper()}"
    return {
        "intake": [
            ("intake.han", "/api/v1/shipments", {}),
            ("viewer", "/api/v1/shipments", {}),
            ("viewer", "/api/v1/shipments", {"status": "arrived"}),
            ("intake.han", "/api/v1/shipments", {"status": "announced"}),
            ("viewer", f"/api/v1/shipments/{shipment_id}", {}),
            ("viewer", f"/api/v1/shipments/{shipment_id}/history", {}),
            ("viewer", "/", {}),
            ("intake.han", "/", {}),
            ("viewer", f"/shipments/{shipment_id}", {}),
            ("viewer", f"/shipments/{shipment_id}/var", {}),
            ("viewer", f"/shipments/{shipment_id}/history", {}),
        ],
        "customs": [
            ("customs.han", "/api/v1/clearances", {}),
            ("viewer", "/api/v1/clearances", {}),
            ("viewer", "/api/v1/clearances", {"status": "cleared"}),
            ("customs.han", "/api/v1/clearances", {"status": "arrived", "airport": "HAN"}),
            ("viewer", f"/api/v1/clearances/{shipment_id}", {}),
            ("viewer", f"/api/v1/clearances/{shipment_id}/history", {}),
            ("viewer", f"/cases/{shipment_id}", {}),
            ("viewer", "/", {"status": "closed"}),
            ("viewer", "/", {"status": "awaiting_arrival"}),
            ("viewer", "/", {"status": "arrived"}),
            ("customs.han", "/", {"status": "cleared"}),
        ],
        "allocation": [
            ("province-01", "/api/v1/provinces/01/notices", {}),
            ("province-01", "/api/v1/recipients/01/notices", {}),
            ("province-01", "/api/v1/provinces/01/notices", {"status": "issued"}),
            ("recipient-mod", "/api/v1/recipients/MOD/notices", {"status": "new"}),  # old name
            ("allocation.moh", "/api/v1/provinces", {}),
            ("allocation.moh", "/api/v1/rounds", {}),
            ("allocation.moh", f"/api/v1/rounds/{shipment_id}", {}),
            ("allocation.moh", "/api/v1/rounds", {"status": "drafted"}),
            ("allocation.moh", "/api/v1/rounds", {"before": round_id}),
            ("allocation.moh", "/api/v1/rounds", {"status": "approved", "before": round_id}),
            ("approver.moh", f"/api/v1/rounds/{round_id}", {}),
            ("approver.moh", f"/api/v1/reserve/{shipment_id}", {}),
            ("allocation.moh", "/api/v1/policies", {}),
            ("allocation.moh", "/api/v1/policies/population-share", {}),
            ("allocation.moh", "/api/v1/recipients", {}),
            ("allocation.moh", "/", {"status": "drafted"}),
            ("approver.moh", f"/rounds/{round_id}", {}),
            ("approver.moh", f"/rounds/{round_id}/annex", {}),
            ("allocation.moh", "/policies", {}),
            ("allocation.moh", "/", {}),
            ("province-01", "/recipients/01", {}),
            ("province-01", "/recipients/01/fragment", {}),
            ("viewer", "/api/v1/discrepancies", {}),
            ("viewer", "/api/v1/discrepancies", {"province": "01"}),
            ("viewer", "/api/v1/lead-times", {}),
            ("province-01", "/api/v1/provinces/01/webhooks", {}),
            ("province-01", "/api/v1/recipients/01/webhooks", {}),
            ("store.nepi", "/dispatch", {}),
            ("viewer", "/discrepancies", {}),
        ],
    }


async def _drive(
    apps: dict[str, tuple[FastAPI, httpx.AsyncClient]], shipment_id: str
) -> dict[str, set[str]]:
    """Calls every read, with the next page when there is one; returns the routes visited."""
    visited: dict[str, set[str]] = {name: set() for name in SERVICES}
    for service, reads in _reads(shipment_id).items():
        app, client = apps[service]
        for user, path, params in reads:
            response = await client.get(path, params=params, headers=_auth(user, service))
            assert response.status_code == 200, f"{service} {path}: {response.text[:300]}"
            visited[service].add(_route_of(app, path))
            if next_cursor := _next_cursor(path, response):
                nxt = await client.get(
                    path, params=params | {"cursor": next_cursor}, headers=_auth(user, service)
                )
                assert nxt.status_code == 200, nxt.text[:300]
        # The notice found in the inbox, by its number (the only read keyed by it).
        if service == "allocation":
            inbox = await client.get(
                "/api/v1/provinces/01/notices", headers=_auth("province-01", service)
            )
            number = inbox.json()["items"][0]["notice_number"]
            for inboxes in ("provinces", "recipients"):  # the same routes under both
                path = f"/api/v1/{inboxes}/01/notices/{number}"
                assert (await client.get(path, headers=_auth("province-01", service))).is_success
                visited[service].add(_route_of(app, path))
                visited[service] |= await _drive_webhooks(app, client, inboxes)
            printable = f"/recipients/01/notices/{number}/print"
            assert (await client.get(printable, headers=_auth("province-01", service))).is_success
    return visited


async def _drive_webhooks(app: FastAPI, client: httpx.AsyncClient, inboxes: str) -> set[str]:
    """A province's webhook, read with each of its routes (the delivery log included)."""
    hooks, auth = f"/api/v1/{inboxes}/01/webhooks", _auth("province-01", "allocation")
    created = await client.post(hooks, json={"url": "http://127.0.0.1:9/hook"}, headers=auth)
    assert created.status_code == 201, created.text
    one = f"{hooks}/{created.json()['endpoint_id']}"
    visited = set()
    for path in (one, f"{one}/deliveries", f"{one}/attempts"):
        assert (await client.get(path, headers=auth)).is_success
        visited.add(_route_of(app, path))
    return visited


def _next_cursor(path: str, response: httpx.Response) -> str | None:
    body = response.json() if path.startswith("/api/") else None
    return body.get("next_cursor") if isinstance(body, dict) else None


def _route_of(app: FastAPI, path: str) -> str:
    for route in _read_routes(app):
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", route), path):
            return route
    return path  # a page: pages are not in the OpenAPI document, _reads lists them


def _read_routes(app: FastAPI) -> Iterator[str]:
    """The service's own GET operations, from its OpenAPI document (streams excepted)."""
    for path, operations in app.openapi()["paths"].items():
        own = not path.startswith(SHARED_PREFIXES) and not path.endswith("/stream")
        if "get" in operations and own:
            yield path


def _seq_scans(plan: dict[str, Any]) -> Iterator[str]:
    if plan.get("Node Type") == "Seq Scan":
        yield str(plan["Relation Name"])
    for child in plan.get("Plans", []):
        yield from _seq_scans(child)


async def _large_seq_scans(service: str, query: str, args: tuple[Any, ...]) -> list[str]:
    conn = await asyncpg.connect(load_settings(service).database_url)
    try:
        explained = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {query}", *args)
        plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
        large = []
        for table in set(_seq_scans(plan)):
            rows = await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = $1", table)
            if rows is not None and rows >= LARGE:
                large.append(f"{table} ({rows:.0f} rows)")
        return large
    finally:
        await conn.close()


async def test_every_read_uses_an_index_on_large_tables(
    apps: dict[str, tuple[FastAPI, httpx.AsyncClient]], captured: Captured
) -> None:
    shipment_id = await _one_consignment(apps)
    for service in SERVICES:
        await _fill(service)

    captured.on = True
    visited = await _drive(apps, shipment_id)
    # The caps' read model, which round commands and capped releases read (no GET of its own).
    allocation_pool = apps["allocation"][0].state.runtime.pool
    assert await allocation_queries.counted_for_shipment(allocation_pool, uuid.UUID(shipment_id))
    await asyncio.sleep(0.2)  # the query loggers are called soon after each query
    captured.on = False

    for service in SERVICES:  # a new read endpoint must be added to _reads
        routes = set(_read_routes(apps[service][0]))
        assert routes <= visited[service], f"{service}: not driven: {routes - visited[service]}"
    read_tables = " ".join(q for s in captured.statements.values() for q, _ in s)
    for table in ("shipments", "clearance_cases", "notices", "allocation_rounds"):
        assert table in read_tables, f"no statement read {table}: was the SQL captured?"

    failures = []
    distinct = {
        (service, query, repr(args)): args
        for service, queries in captured.statements.items()
        for query, args in queries
    }
    for (service, query, _), args in sorted(distinct.items()):
        if scans := await _large_seq_scans(service, query, args):
            failures.append(f"[{service}] seq scan on {', '.join(scans)}:\n{query}\nargs={args}")
    print(f"\n{len(distinct)} distinct statements explained, {len(failures)} with a seq scan")
    assert not failures, "\n\n".join(failures)
