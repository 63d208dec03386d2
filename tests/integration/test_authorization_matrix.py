"""Every API operation of every service, as every role and for every airport or province.

The three apps run in-process on the real database and broker, with real data made through
their APIs first (two consignments, HAN and SGN, announced, arrived, cleared, allocated).
Each operation is taken from the service's OpenAPI document; its rule says which roles may
call it and whether it is scoped to an airport, a province or a recipient (a province or a
national recipient). An allowed call must not get 401/403; any other call must. A list must
never show another airport's or recipient's items.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from services.allocation import main as allocation_main
from services.allocation.domain import round_id_for
from services.customs import main as customs_main
from services.intake import main as intake_main
from services.reporting import main as reporting_main
from shared.auth import DEMO_PASSWORD, Role, demo_users
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.infra.postgres import EmbeddedPostgres
from shared.reference_data import province_codes
from shared.settings import Settings, all_topics
from tests.e2e.flows import arrival_of, vaccine_consignment
from tests.integration.apps import bearer, serving, settings_for

pytestmark = pytest.mark.integration

MODULES = {
    "intake": intake_main,
    "customs": customs_main,
    "allocation": allocation_main,
    "reporting": reporting_main,
}
USERS = [
    "intake.han",
    "intake.sgn",
    "customs.han",
    "customs.sgn",
    "allocation.moh",
    "province-A",  # two province officers, of provinces that received notices
    "province-B",
    "recipient-mod",  # a national recipient's officer
    "viewer",
    "admin",
    None,  # anonymous
]
ANYONE = "anyone"  # no authentication needed
SIGNED_IN = "signed-in"  # any role


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role] | str
    scope: str | None = None  # "airport", "province" or "recipient": the target's, covered


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset({*roles, Role.ADMIN})


READ_SHIPMENTS = _roles(Role.INTAKE_OFFICER, Role.INTAKE_SUPERVISOR, Role.NATIONAL_VIEWER)
INTAKE = _roles(Role.INTAKE_OFFICER, Role.INTAKE_SUPERVISOR)
READ_CASES = _roles(Role.CUSTOMS_OFFICER, Role.NATIONAL_VIEWER)
# A valid body for each customs step: bad input would be refused before the role is checked.
CASE_STEPS: dict[str, dict[str, Any]] = {
    "declaration": {"declaration_number": "104123456789", "declaration_type": "full"},
    "documents": {"document": "airway_bill", "status": "received"},
    "permits": {"agency": "Drug Administration", "status": "granted"},
    "lane": {"lane": "green"},
    "examination": {"place": "airport"},
    "holds": {"reason": "inspection"},
    "holds/{hold_id}/release": {},
    "release": {"everything": True},
    "refusal": {"everything": True, "outcome": "re_export", "reason": "test"},
}
READ_PROVINCE = _roles(Role.PROVINCE_OFFICER, Role.ALLOCATION_OFFICER, Role.NATIONAL_VIEWER)
NATIONAL = _roles(
    Role.NATIONAL_VIEWER, Role.ALLOCATION_OFFICER, Role.ALLOCATION_APPROVER, Role.STORE_OFFICER
)
MINISTRY = _roles(Role.ALLOCATION_OFFICER, Role.ALLOCATION_APPROVER, Role.NATIONAL_VIEWER)
# A valid body for each round command: bad input would be refused before the role is checked.
DECISION = {"decision_number": "3400/QĐ-BYT", "decision_date": "2021-07-13"}
NO_CHANGE = {"changes": [{"line_no": 1, "recipient_code": "01", "quantity": 0}], "reason": "t"}
ROUND_STEPS: dict[str, dict[str, Any]] = {
    "adjustments": NO_CHANGE,
    "redraft": {"policy_id": "population-share"},
    "approve": DECISION,
    "amendments": NO_CHANGE | DECISION,
}
RULES: dict[str, Rule] = {
    "GET /health/live": Rule(ANYONE),
    "GET /health/ready": Rule(ANYONE),
    "POST /api/v1/auth/token": Rule(ANYONE),
    "GET /api/v1/auth/me": Rule(SIGNED_IN),
    "POST /api/v1/auth/logout": Rule(SIGNED_IN),
    "GET /api/v1/shipments": Rule(READ_SHIPMENTS),
    "POST /api/v1/shipments": Rule(INTAKE, "airport"),
    "GET /api/v1/shipments/{shipment_id}": Rule(READ_SHIPMENTS, "airport"),
    "GET /api/v1/shipments/{shipment_id}/history": Rule(READ_SHIPMENTS, "airport"),
    "POST /api/v1/shipments/{shipment_id}/arrival": Rule(INTAKE, "airport"),
    "POST /api/v1/shipments/{shipment_id}/inspection": Rule(INTAKE, "airport"),
    "POST /api/v1/shipments/{shipment_id}/arrival-reports": Rule(INTAKE, "airport"),
    "POST /api/v1/shipments/{shipment_id}/amendments": Rule(INTAKE, "airport"),
    "POST /api/v1/shipments/{shipment_id}/cancel": Rule(INTAKE, "airport"),
    "POST /api/v1/shipments/{shipment_id}/close": Rule(INTAKE, "airport"),
    "GET /api/v1/clearances": Rule(READ_CASES),
    "GET /api/v1/clearances/{shipment_id}": Rule(READ_CASES, "airport"),
    "POST /api/v1/clearances/{shipment_id}/fast-track": Rule(
        _roles(Role.CUSTOMS_OFFICER), "airport"
    ),
    "GET /api/v1/clearances/{shipment_id}/history": Rule(READ_CASES, "airport"),
    **{
        f"POST /api/v1/clearances/{{shipment_id}}/{step}": Rule(
            _roles(Role.CUSTOMS_OFFICER), "airport"
        )
        for step in CASE_STEPS
    },
    "GET /api/v1/provinces": Rule(SIGNED_IN),
    "GET /api/v1/provinces/{code}/notices": Rule(READ_PROVINCE, "province"),
    "GET /api/v1/provinces/{code}/notices/stream": Rule(READ_PROVINCE, "province"),
    "GET /api/v1/provinces/{code}/notices/{number}": Rule(READ_PROVINCE, "province"),
    "POST /api/v1/provinces/{code}/notices/{number}/acknowledge": Rule(
        _roles(Role.PROVINCE_OFFICER), "province"
    ),
    "POST /api/v1/provinces/{code}/notices/{number}/dispatch": Rule(_roles(Role.STORE_OFFICER)),
    "POST /api/v1/provinces/{code}/notices/{number}/receipt": Rule(
        _roles(Role.PROVINCE_OFFICER), "province"
    ),
    "GET /api/v1/discrepancies": Rule(NATIONAL),
    "GET /api/v1/lead-times": Rule(NATIONAL),
    "POST /api/v1/provinces/{code}/webhooks": Rule(_roles(Role.PROVINCE_OFFICER), "province"),
    "GET /api/v1/provinces/{code}/webhooks": Rule(READ_PROVINCE, "province"),
    "GET /api/v1/provinces/{code}/webhooks/{endpoint_id}": Rule(READ_PROVINCE, "province"),
    "DELETE /api/v1/provinces/{code}/webhooks/{endpoint_id}": Rule(
        _roles(Role.PROVINCE_OFFICER), "province"
    ),
    "POST /api/v1/provinces/{code}/webhooks/{endpoint_id}/replay": Rule(
        _roles(Role.PROVINCE_OFFICER), "province"
    ),
    "GET /api/v1/provinces/{code}/webhooks/{endpoint_id}/deliveries": Rule(
        READ_PROVINCE, "province"
    ),
    "GET /api/v1/provinces/{code}/webhooks/{endpoint_id}/attempts": Rule(READ_PROVINCE, "province"),
    "GET /api/v1/recipients": Rule(SIGNED_IN),
    "GET /api/v1/policies": Rule(SIGNED_IN),
    "GET /api/v1/policies/{policy_id}": Rule(SIGNED_IN),
    "GET /api/v1/rounds": Rule(MINISTRY),
    "GET /api/v1/rounds/{round_id}": Rule(MINISTRY),
    "POST /api/v1/rounds/{round_id}/adjustments": Rule(_roles(Role.ALLOCATION_OFFICER)),
    "POST /api/v1/rounds/{round_id}/redraft": Rule(_roles(Role.ALLOCATION_OFFICER)),
    "POST /api/v1/rounds/{round_id}/approve": Rule(_roles(Role.ALLOCATION_APPROVER)),
    "POST /api/v1/rounds/{round_id}/amendments": Rule(_roles(Role.ALLOCATION_APPROVER)),
    "POST /api/v1/reserve/releases": Rule(_roles(Role.ALLOCATION_OFFICER)),
    "GET /api/v1/reserve/{shipment_id}": Rule(MINISTRY),
    "GET /api/v1/dashboard": Rule(NATIONAL),
    "GET /api/v1/dashboard/stream": Rule(NATIONAL),
    "GET /api/v1/provinces/{code}/summary": Rule(NATIONAL | {Role.PROVINCE_OFFICER}, "province"),
    "GET /api/v1/recipients/{code}/summary": Rule(NATIONAL | {Role.PROVINCE_OFFICER}, "recipient"),
    "GET /api/v1/donors": Rule(NATIONAL),
    "GET /api/v1/donors/{donor}/report": Rule(NATIONAL),
    "GET /api/v1/shipments/{shipment_id}/timeline": Rule(NATIONAL),
}
# Every recipient's inbox and webhooks: the provinces' routes, for any recipient's code.
INBOX = re.compile(r"^(\w+) /api/v1/provinces/\{code\}/(notices|webhooks)")
RULES |= {
    operation.replace("/provinces/", "/recipients/"): Rule(rule.roles, "recipient")
    for operation, rule in RULES.items()
    if INBOX.match(operation)
}
NATIONAL_RECIPIENT = "MOD"  # no notice of its own here: scoping comes before the lookup


def rule_for(operation: str) -> Rule:
    """Each operation's rule; every admin operation is for admins only."""
    if operation in RULES:
        return RULES[operation]
    if operation.split(" ", 1)[1].startswith("/admin/"):
        return Rule(frozenset({Role.ADMIN}))
    raise AssertionError(f"no authorization rule for {operation}: add one to RULES")


@dataclass(frozen=True)
class Target:
    """What an operation acts on: its scope (airport or province) and its path values."""

    scope: str
    values: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    clients: dict[str, httpx.AsyncClient]
    settings: dict[str, Settings]
    apps: dict[str, FastAPI]
    shipments: dict[str, str]  # airport -> shipment id
    notices: dict[str, str]  # recipient code -> a notice number of that recipient


@contextlib.asynccontextmanager
async def three_services(postgres: EmbeddedPostgres, kafka: KafkaBroker) -> AsyncIterator[World]:
    prefix = f"mx{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    async with contextlib.AsyncExitStack() as stack:
        world = World({}, {}, {}, {}, {})
        for name, module in MODULES.items():
            database = f"{prefix}_{name}"
            postgres.create_database(database)
            url = postgres.database_url(database)
            settings = settings_for(name, url, kafka.bootstrap_servers, prefix)
            routers = getattr(module, "ROUTERS", [module.api.router, module.pages.router])
            app = create_app(module.SPEC, settings, routers)
            world.clients[name] = await stack.enter_async_context(serving(app))
            world.settings[name], world.apps[name] = settings, app
        await _make_data(world)
        yield world


async def _call(world: World, user: str, service: str, method: str, path: str, **kw: Any) -> Any:
    headers = bearer(user, world.settings[service])
    response = await world.clients[service].request(method, path, headers=headers, **kw)
    assert response.status_code < 300, response.text
    return response.json()


async def _until(probe: Callable[[], Awaitable[Any]], timeout: float = 90.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await probe()):
            await asyncio.sleep(0.2)
        return found


async def _make_data(world: World) -> None:
    for airport in ("HAN", "SGN"):
        user = f"intake.{airport.lower()}"
        body = vaccine_consignment(f"738-{uuid.uuid4().int % 10**8:08d}", airport=airport)
        shipment = await _call(world, user, "intake", "POST", "/api/v1/shipments", json=body)
        sid = shipment["shipment_id"]
        await _call(
            world,
            user,
            "intake",
            "POST",
            f"/api/v1/shipments/{sid}/arrival",
            json=arrival_of(shipment),
        )
        world.shipments[airport] = sid

        async def arrived(sid: str = sid) -> bool:
            case = await world.clients["customs"].get(
                f"/api/v1/clearances/{sid}", headers=bearer("admin", world.settings["customs"])
            )
            return case.status_code == 200 and case.json()["status"] == "arrived"

        await _until(arrived)
        await _call(
            world,
            f"customs.{airport.lower()}",
            "customs",
            "POST",
            f"/api/v1/clearances/{sid}/fast-track",
            json={"declaration_number": "104123456789"},
        )

    async def notices() -> dict[str, str]:
        found: dict[str, str] = {}
        for code in province_codes():
            page = await world.clients["allocation"].get(
                f"/api/v1/provinces/{code}/notices",
                headers=bearer("admin", world.settings["allocation"]),
            )
            items = page.json()["items"]
            if items:
                found[code] = items[0]["notice_number"]
        return found if len(found) >= 2 else {}

    world.notices = await _until(notices)


# -- calling one operation -------------------------------------------------------------


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, OpenAPI operation) for every operation in the document."""
    return [
        (method.upper(), path, operation)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    ]


def targets(rule: Rule, path: str, world: World) -> list[Target]:
    """The values to call an operation with: one per airport or province when it is scoped."""
    shipment = {"shipment_id": world.shipments["HAN"]}
    if rule.scope == "airport":
        return [Target(a, {"shipment_id": s, "airport": a}) for a, s in world.shipments.items()]
    if rule.scope in ("province", "recipient"):
        endpoint = str(uuid.uuid4())  # none such: found or not, only after the role check
        return [
            Target(c, {"code": c, "number": n, "endpoint_id": endpoint})
            for c, n in world.notices.items()
            if rule.scope == "recipient" or c in province_codes()
        ]
    round_id = round_id_for(UUID(world.shipments["HAN"]))
    plain = Target(
        "",
        shipment
        | {
            "code": next(iter(world.notices)),
            "sub": "nobody",
            "round_id": round_id,
            "policy_id": "population-share",
        },
    )
    if path in ("/api/v1/shipments", "/api/v1/clearances") and rule.roles != ANYONE:
        # asking for another airport's list must not show it either
        return [plain] + [Target("", {}, {"airport": a}) for a in world.shipments]
    return [plain]


def filled(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path)


def body_for(operation: str, target: Target) -> dict[str, Any]:
    if operation == "POST /api/v1/shipments":
        airway_bill = f"738-{uuid.uuid4().int % 10**8:08d}"
        return {"json": vaccine_consignment(airway_bill, airport=target.scope)}
    if operation.endswith("/arrival"):
        return {
            "json": {
                "arrived_at": "2026-01-01T00:00:00Z",
                "received": [{"line_no": 1, "lot_number": "ABV5300", "quantity": 1}],
            }
        }
    if operation.endswith("/inspection"):
        lot = {"line_no": 1, "lot_number": "ABV5300", "counted": 1}
        return {"json": {"flight": "VN0317", "arrived_at": "2026-01-01T00:00:00Z", "lots": [lot]}}
    if operation.endswith("/arrival-reports"):
        return {"json": {"part_no": 1, "line_no": 1, "inspected_by": "A"}}
    if operation == "POST /api/v1/shipments/{shipment_id}/amendments":
        body = vaccine_consignment("738-00000000", airport=target.scope)
        for key in ("airport", "airway_bill"):
            body.pop(key)
        return {"json": body | {"reason": "corrected"}}
    if operation.endswith("/cancel"):
        return {"json": {"reason": "withdrawn"}}
    if operation.endswith("/fast-track"):
        return {"json": {"declaration_number": "104123456789"}}
    if operation.endswith("/dispatch"):
        return {"json": {"carrier": "VNPost cold truck"}}
    if operation.endswith("/receipt"):
        return {"json": {"lots": [{"lot_number": "ABV5300", "counted": 1, "accepted": 1}]}}
    if operation.endswith("/{code}/webhooks") and operation.startswith("POST"):
        return {"json": {"url": "http://127.0.0.1:9/hook"}}
    if operation.startswith("POST /api/v1/clearances/{shipment_id}/"):
        return {"json": CASE_STEPS[operation.split("{shipment_id}/", 1)[1]]}
    if operation.startswith("POST /api/v1/rounds/{round_id}/"):
        return {"json": ROUND_STEPS[operation.rsplit("/", 1)[1]]}
    if operation == "POST /api/v1/reserve/releases":
        sid = target.values["shipment_id"]
        return {"json": {"shipment_id": sid, "lines": [{"line_no": 1, "quantity": 1}]}}
    if operation == "POST /api/v1/auth/token":
        return {"data": {"username": "viewer", "password": DEMO_PASSWORD}}
    if operation.startswith("POST"):
        return {"json": {}}
    return {}


async def status_of(app: FastAPI, method: str, path: str, headers: dict[str, str]) -> int:
    """The status of a (possibly endless) streamed response: the client leaves once it starts."""
    started = asyncio.Event()
    status = 0
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": raw,
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "root_path": "",
        "app": app,
    }
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await started.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            started.set()

    async with asyncio.timeout(60):
        await app(scope, receive, send)
    return status


@dataclass
class Outcome:
    calls: int = 0
    leaks: list[str] = field(default_factory=list)
    refused_wrongly: list[str] = field(default_factory=list)


def allowed(rule: Rule, user: str | None, target: Target, world: World) -> bool:
    if rule.roles == ANYONE:
        return True
    if user is None:
        return False
    principal = demo_users(province_codes())[user].principal
    if rule.roles != SIGNED_IN and principal.role not in rule.roles:
        return False
    return rule.scope is None or principal.covers(target.scope)


def scope_leaks(user: str | None, operation: str, payload: Any) -> list[str]:
    """Items of a list that the user's scope does not cover."""
    if user is None or not isinstance(payload, dict) or "items" not in payload:
        return []
    principal = demo_users(province_codes())[user].principal
    key = "province_code" if "/{code}/" in operation else "airport"
    return [
        f"{user} saw {item[key]} in {operation}"
        for item in payload["items"]
        if not principal.covers(item[key])
    ]


async def check(world: World, service: str, user: str | None, outcome: Outcome, last: bool) -> None:
    app, client = world.apps[service], world.clients[service]
    headers = bearer(user, world.settings[service]) if user else {}
    for method, path, _ in operations(app):
        operation = f"{method} {path}"
        if (operation == "POST /api/v1/auth/logout") != last:
            continue  # a logout revokes the caller's tokens: it goes after everything else
        rule = rule_for(operation)
        for target in targets(rule, path, world):
            url = filled(path, target.values)
            if path.endswith("/stream"):
                status, payload = await status_of(app, method, url, headers), None
            else:
                response = await client.request(
                    method,
                    url,
                    headers=headers,
                    params=target.params,
                    **body_for(operation, target),
                )
                status = response.status_code
                is_json = response.headers.get("content-type", "").endswith("json")
                payload = response.json() if is_json else None
            outcome.calls += 1
            where = f"{user or 'anonymous'} {method} {url} -> {status}"
            assert status < 500, where
            if allowed(rule, user, target, world):
                if status in (401, 403):
                    outcome.refused_wrongly.append(where)
                outcome.leaks += scope_leaks(user, operation, payload)
            elif status not in (401, 403):
                outcome.leaks.append(where)


async def test_the_authorization_matrix_has_no_leaks(
    postgres: EmbeddedPostgres, kafka: KafkaBroker
) -> None:
    async with three_services(postgres, kafka) as world:
        provinces = list(world.notices)[:2]
        users = [
            f"province-{provinces[0]}"
            if u == "province-A"
            else f"province-{provinces[1]}"
            if u == "province-B"
            else u
            for u in USERS
        ]
        world.notices = {c: world.notices[c] for c in provinces}
        world.notices[NATIONAL_RECIPIENT] = f"R-NONE-{NATIONAL_RECIPIENT}-1"
        outcome = Outcome()
        for service in MODULES:
            for last in (False, True):
                for user in users:
                    await check(world, service, user, outcome, last)
        operation_count = sum(len(operations(a)) for a in world.apps.values())
        print(
            f"\nauthorization matrix: {len(users)} roles x {operation_count} operations"
            f" x 2 airports / 2 provinces and a national recipient = {outcome.calls} calls,"
            f" {len(outcome.leaks)} leaks"
        )
        assert outcome.leaks == []
        assert outcome.refused_wrongly == []
        assert outcome.calls > 300
