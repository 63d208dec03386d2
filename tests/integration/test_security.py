"""Sign-in, revocation, throttling, CSRF, headers, restricted operations endpoints, an external
OpenID Connect issuer and the refusal to start unsafely: the intake app in-process on the
real database and broker."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.intake import api, pages
from services.intake.main import SPEC
from shared.auth import DEMO_PASSWORD, Principal, Role, issue_token
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics, free_port
from shared.settings import Settings, UnsafeSettings, all_topics
from shared.useradd import add_user
from tests.conftest import ROOT
from tests.integration.apps import bearer, serving, settings_for

pytestmark = pytest.mark.integration

ISSUER = "http://127.0.0.1/realms/ministry"
AUDIENCE = "aidport-intake"


async def _settings(database: str, kafka: KafkaBroker, **overrides: Any) -> Settings:
    prefix = f"sec{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    base = settings_for("intake", database, kafka.bootstrap_servers, prefix)
    return base.model_copy(update=overrides)


@pytest.fixture
async def intake(database: str, kafka: KafkaBroker) -> AsyncIterator[httpx.AsyncClient]:
    settings = await _settings(database, kafka, login_failures_per_client=8)
    async with serving(create_app(SPEC, settings, [api.router, pages.router])) as client:
        client.app_settings = settings  # type: ignore[attr-defined]
        yield client


async def _token(client: httpx.AsyncClient, user: str, password: str = DEMO_PASSWORD) -> str:
    response = await client.post(
        "/api/v1/auth/token", data={"username": user, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None and client.cookies["aidport_csrf"] == found.group(1)
    return found.group(1)


# -- tokens count only for known, active users -------------------------------------------


async def test_logout_revokes_the_users_tokens(intake: httpx.AsyncClient) -> None:
    first, second = await _token(intake, "intake.han"), await _token(intake, "intake.han")
    assert (await intake.get("/api/v1/auth/me", headers=_auth(first))).status_code == 200
    assert (await intake.post("/api/v1/auth/logout", headers=_auth(first))).status_code == 204
    for old in (first, second):
        assert (await intake.get("/api/v1/auth/me", headers=_auth(old))).status_code == 401
    fresh = await _token(intake, "intake.han")
    assert (await intake.get("/api/v1/auth/me", headers=_auth(fresh))).status_code == 200


async def test_a_disabled_user_is_refused_until_enabled(intake: httpx.AsyncClient) -> None:
    officer, admin = await _token(intake, "intake.sgn"), await _token(intake, "admin")
    other = await _token(intake, "intake.han")
    assert (
        await intake.post("/admin/users/intake.sgn/disable", headers=_auth(other))
    ).status_code == 403
    disabled = await intake.post("/admin/users/intake.sgn/disable", headers=_auth(admin))
    assert disabled.json() == {"sub": "intake.sgn", "active": False}
    assert (await intake.get("/api/v1/shipments", headers=_auth(officer))).status_code == 401
    refused = await intake.post(
        "/api/v1/auth/token", data={"username": "intake.sgn", "password": DEMO_PASSWORD}
    )
    assert refused.status_code == 401
    assert (
        await intake.post("/admin/users/intake.sgn/enable", headers=_auth(admin))
    ).status_code == 200
    assert (await intake.get("/api/v1/shipments", headers=_auth(officer))).status_code == 401
    again = await _token(intake, "intake.sgn")
    assert (await intake.get("/api/v1/shipments", headers=_auth(again))).status_code == 200
    missing = await intake.post("/admin/users/nobody/disable", headers=_auth(admin))
    assert missing.status_code == 404


async def test_tokens_of_unknown_users_or_other_services_are_refused(
    intake: httpx.AsyncClient,
) -> None:
    settings: Settings = intake.app_settings  # type: ignore[attr-defined]
    ghost = Principal("ghost", "Nobody", Role.ADMIN)
    forged = issue_token(ghost, settings.jwt_secret, timedelta(minutes=5), "intake")
    assert (await intake.get("/api/v1/auth/me", headers=_auth(forged))).status_code == 401
    admin = Principal("admin", "Administrator", Role.ADMIN)
    elsewhere = issue_token(admin, settings.jwt_secret, timedelta(minutes=5), "customs")
    assert (await intake.get("/api/v1/auth/me", headers=_auth(elsewhere))).status_code == 401
    stale = bearer("admin", settings, version=0)
    assert (await intake.get("/api/v1/auth/me", headers=stale)).status_code == 401
    assert (
        await intake.get("/api/v1/auth/me", headers=bearer("admin", settings))
    ).status_code == 200


async def test_demo_accounts_stop_counting_when_the_demo_provider_is_off(
    database: str, kafka: KafkaBroker
) -> None:
    settings = await _settings(database, kafka)
    async with serving(create_app(SPEC, settings, [api.router, pages.router])) as client:
        token = await _token(client, "admin")
    off = settings.model_copy(update={"demo_users": False})
    async with serving(create_app(SPEC, off, [api.router, pages.router])) as client:
        assert (await client.get("/api/v1/auth/me", headers=_auth(token))).status_code == 401
        demo = {"username": "admin", "password": DEMO_PASSWORD}
        assert (await client.post("/api/v1/auth/token", data=demo)).status_code == 401


async def test_an_operator_adds_a_user_without_the_demo_provider(
    database: str, kafka: KafkaBroker
) -> None:
    lead = Principal("customs.lead", "Lead officer", Role.INTAKE_OFFICER, ("HAN", "SGN"))
    await add_user(database, lead, "a long enough password")
    settings = await _settings(database, kafka, demo_users=False)
    async with serving(create_app(SPEC, settings, [api.router, pages.router])) as client:
        token = await _token(client, "customs.lead", "a long enough password")
        me = (await client.get("/api/v1/auth/me", headers=_auth(token))).json()
        assert me["role"] == "intake_officer" and me["scope"] == ["HAN", "SGN"]
        await add_user(database, lead, "another long password")  # a new password revokes
        assert (await client.get("/api/v1/auth/me", headers=_auth(token))).status_code == 401


# -- throttling --------------------------------------------------------------------------


async def test_failed_sign_ins_are_throttled_per_user(intake: httpx.AsyncClient) -> None:
    wrong = {"username": "customs.han", "password": "guess"}
    for _ in range(5):
        assert (await intake.post("/api/v1/auth/token", data=wrong)).status_code == 401
    right = {"username": "customs.han", "password": DEMO_PASSWORD}
    throttled = await intake.post("/api/v1/auth/token", data=right)
    assert throttled.status_code == 429
    assert throttled.headers["content-type"] == "application/problem+json"
    assert 1 <= int(throttled.headers["retry-after"]) <= 300
    # the page form is throttled the same way
    csrf = await _csrf(intake)
    page = await intake.post("/login", data=right | {"csrf_token": csrf})
    assert page.status_code == 429 and "retry-after" in page.headers
    # another user from the same client is not held back yet
    await _token(intake, "viewer")


async def test_failed_sign_ins_are_throttled_per_client(intake: httpx.AsyncClient) -> None:
    for n in range(8):  # the fixture allows 8 failures per client address
        data = {"username": f"guess-{n}", "password": "guess"}
        assert (await intake.post("/api/v1/auth/token", data=data)).status_code == 401
    data = {"username": "viewer", "password": DEMO_PASSWORD}
    throttled = await intake.post("/api/v1/auth/token", data=data)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1


# -- pages: CSRF, cookies, headers -------------------------------------------------------


async def test_the_login_form_needs_its_csrf_token(intake: httpx.AsyncClient) -> None:
    credentials = {"username": "intake.han", "password": DEMO_PASSWORD}
    assert (await intake.post("/login", data=credentials)).status_code == 403
    csrf = await _csrf(intake)
    assert (
        await intake.post("/login", data=credentials | {"csrf_token": "x" + csrf})
    ).status_code == 403
    signed_in = await intake.post("/login", data=credentials | {"csrf_token": csrf})
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"].lower()
    assert (
        "aidport_intake_token=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    )
    assert (await intake.get("/")).status_code == 200


async def test_cookie_commands_and_logout_need_the_csrf_token(intake: httpx.AsyncClient) -> None:
    csrf = await _csrf(intake)
    credentials = {"username": "intake.han", "password": DEMO_PASSWORD, "csrf_token": csrf}
    assert (await intake.post("/login", data=credentials)).status_code == 303
    without = await intake.post("/api/v1/shipments", json={})
    assert without.status_code == 403 and "CSRF" in without.json()["detail"]
    with_token = await intake.post("/api/v1/shipments", json={}, headers={"X-CSRF-Token": csrf})
    assert with_token.status_code == 422  # past authentication, refused on its content
    assert (await intake.post("/logout")).status_code == 403
    assert (await intake.get("/")).status_code == 200  # still signed in
    out = await intake.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    # the session's token is revoked, even if a copy of the cookie was kept
    assert (await intake.get("/api/v1/auth/me")).status_code == 401


@pytest.mark.parametrize("path", ["/login", "/api/v1/auth/me", "/health/live", "/nowhere"])
async def test_every_response_carries_the_security_headers(
    intake: httpx.AsyncClient, path: str
) -> None:
    response = await intake.get(path)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_pages_have_no_inline_script_or_style(intake: httpx.AsyncClient) -> None:
    csrf = await _csrf(intake)
    credentials = {"username": "intake.han", "password": DEMO_PASSWORD, "csrf_token": csrf}
    await intake.post("/login", data=credentials)
    for path in ("/login", "/", "/shipments/new"):
        page = (await intake.get(path)).text
        assert page.count("<script") == page.count("<script src=")
        assert not re.search(r"\s(style|on[a-z]+)=", page), path


# -- operations endpoints ----------------------------------------------------------------


async def test_docs_and_metrics_are_restricted_outside_development(
    database: str, kafka: KafkaBroker
) -> None:
    port = free_port()
    settings = await _settings(
        database, kafka, env="production", demo_users=False, jwt_secret="s" * 40, metrics_port=port
    )
    async with serving(create_app(SPEC, settings, [api.router, pages.router])) as client:
        assert (await client.get("/openapi.json")).status_code == 401
        assert (await client.get("/docs")).status_code == 401
        assert (await client.get("/metrics")).status_code == 401
        async with httpx.AsyncClient() as scraper:
            scraped = await scraper.get(f"http://127.0.0.1:{port}/metrics")
        assert (
            scraped.status_code == 200 and "aidport_http_request_duration_seconds" in scraped.text
        )
        # no bounded label takes the raw path or an invented method
        await client.request("BREW", "/nowhere/12345")
        async with httpx.AsyncClient() as scraper:
            text = (await scraper.get(f"http://127.0.0.1:{port}/metrics")).text
        assert "/nowhere/12345" not in text and 'method="BREW"' not in text
        assert 'method="OTHER",route="unmatched"' in text


async def test_docs_are_public_in_development_and_their_page_allows_only_its_script(
    intake: httpx.AsyncClient,
) -> None:
    assert (await intake.get("/openapi.json")).json()["info"]["title"] == "AidPort Intake"
    docs = await intake.get("/docs")
    csp = docs.headers["content-security-policy"]
    assert docs.status_code == 200 and "'sha256-" in csp and "unsafe-inline" not in csp


# -- an external OpenID Connect issuer ---------------------------------------------------


@pytest.fixture(scope="module")
def issuer_key() -> Iterator[tuple[rsa.RSAPrivateKey, str]]:
    """An RSA key and its JWKS served on 127.0.0.1, as a ministry's Keycloak would."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield key, f"http://127.0.0.1:{server.server_port}/certs"
    server.shutdown()
    server.server_close()


def _external_token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = datetime.now(UTC)
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "f3a1-officer",
        "name": "Officer of the ministry",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "realm_access": {"roles": ["offline_access", "intake_officer"]},
        "airports": "HAN",
    }
    return jwt.encode(base | claims, key, algorithm="RS256", headers={"kid": "k1"})


async def test_an_external_issuer_replaces_the_development_one(
    database: str, kafka: KafkaBroker, issuer_key: tuple[rsa.RSAPrivateKey, str]
) -> None:
    key, jwks_url = issuer_key
    settings = await _settings(
        database,
        kafka,
        demo_users=False,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=jwks_url,
        oidc_role_claim="realm_access.roles",
        oidc_scope_claim="airports",
    )
    async with serving(create_app(SPEC, settings, [api.router, pages.router])) as client:
        me = await client.get("/api/v1/auth/me", headers=_auth(_external_token(key)))
        assert me.status_code == 200, me.text
        assert me.json() | {"name": ""} == {
            "sub": "f3a1-officer",
            "name": "",
            "role": "intake_officer",
            "scope": ["HAN"],
        }
        listed = await client.get("/api/v1/shipments", headers=_auth(_external_token(key)))
        assert listed.status_code == 200
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for bad in (
            _external_token(key, airports=7),  # a scope that is not a string: 401, not 500
            _external_token(key, realm_access={"roles": ["pilot"]}),
            _external_token(key, aud="another-app"),
            _external_token(key, iss="http://127.0.0.1/realms/other"),
            _external_token(key, exp=datetime.now(UTC) - timedelta(minutes=1)),
            _external_token(other_key),
        ):
            refused = await client.get("/api/v1/auth/me", headers=_auth(bad))
            assert refused.status_code == 401, refused.text
        # the demo issuer is off: no password sign-in, no built-in token
        demo = {"username": "admin", "password": DEMO_PASSWORD}
        assert (await client.post("/api/v1/auth/token", data=demo)).status_code == 401
        # a local admin can still shut an external user out of this service
        admin = _external_token(key, sub="a-1", realm_access={"roles": ["admin"]})
        off = await client.post("/admin/users/f3a1-officer/disable", headers=_auth(admin))
        assert off.status_code == 200
        again = await client.get("/api/v1/auth/me", headers=_auth(_external_token(key)))
        assert again.status_code == 401


# -- refusing to start -------------------------------------------------------------------


def test_a_service_refuses_to_start_with_a_weak_secret_outside_development() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIDPORT_")}
    env |= {"AIDPORT_ENV": "production", "AIDPORT_JWT_SECRET": "short", "INTAKE_PORT": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "services.intake"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "shorter than 32 bytes" in lines[0], done.stderr
    demo = env | {"AIDPORT_JWT_SECRET": "s" * 40, "AIDPORT_DEMO_USERS": "true"}
    done = subprocess.run(
        [sys.executable, "-m", "services.intake"],
        cwd=ROOT,
        env=demo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1
    assert "demo identity provider" in done.stderr


async def test_an_app_in_process_refuses_to_start_with_the_development_secret(
    database: str, kafka: KafkaBroker
) -> None:
    settings = await _settings(database, kafka, env="production", demo_users=False)
    with pytest.raises(UnsafeSettings, match="development secret"):
        async with serving(create_app(SPEC, settings, [api.router, pages.router])):
            pass
