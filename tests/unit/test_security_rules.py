"""The pure parts of the security layer: token claims, CSRF, headers, metric labels, settings."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.accounts import seconds_to_wait
from shared.auth import (
    AuthError,
    Principal,
    Role,
    hash_password,
    issue_token,
    password_matches,
    principal_from_claims,
    read_token,
)
from shared.http.docs import docs_policy
from shared.http.middleware import METHODS, metric_method, security_headers
from shared.http.security import csrf_matches, new_csrf_token
from shared.settings import DEV_JWT_SECRET, Settings

SECRET = "a-test-secret-that-is-long-enough-0123456789"
OFFICER = Principal("customs.han", "Customs officer", Role.CUSTOMS_OFFICER, ("HAN",))

ROLE_NAMES = st.sampled_from([r.value for r in Role])
SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=6) | ROLE_NAMES
CLAIM_VALUES = (
    SCALARS
    | st.lists(SCALARS, max_size=3)
    | st.dictionaries(st.text(max_size=3), SCALARS, max_size=2)
)


# The machine may be busy with other suites: generation speed is not what is tested.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["sub", "name", "role", "scope", "other"]), CLAIM_VALUES, max_size=5
    )
)
def test_any_claims_give_a_principal_or_a_401_never_another_error(claims: dict[str, Any]) -> None:
    try:
        principal = principal_from_claims(claims)
    except AuthError as error:
        assert error.status == 401
    else:
        assert principal.role.value == claims["role"] or principal.role.value in claims["role"]
        assert all(isinstance(item, str) for item in principal.scope)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "x", "role": "customs_officer", "scope": 7},  # a scope that is not a string
        {"sub": "x", "role": "customs_officer", "scope": ["HAN", 1]},
        {"sub": "x", "role": "pilot"},  # no such role
        {"sub": "x", "role": ["pilot"]},
        {"sub": 12, "role": "admin"},
        {"role": "admin"},
        {"sub": "x", "name": {"first": "x"}, "role": "admin"},
    ],
)
def test_malformed_claims_are_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(AuthError) as refused:
        principal_from_claims(claims)
    assert refused.value.status == 401


def test_keycloak_style_claims_by_dotted_path() -> None:
    claims = {
        "sub": "u-1",
        "realm_access": {"roles": ["offline_access", "province_officer"]},
        "provinces": ["01", "79"],
    }
    principal = principal_from_claims(claims, "realm_access.roles", "provinces")
    assert principal.role is Role.PROVINCE_OFFICER and principal.scope == ("01", "79")


def test_a_builtin_token_is_bound_to_its_service_and_carries_the_version() -> None:
    token = issue_token(OFFICER, SECRET, timedelta(minutes=5), "customs", version=4)
    read = read_token(token, SECRET, "customs")
    assert read.principal == OFFICER and read.version == 4
    with pytest.raises(AuthError):
        read_token(token, SECRET, "intake")  # another service's token
    with pytest.raises(AuthError):
        read_token(token, SECRET + "x", "customs")


def test_passwords_are_argon2id_and_salted() -> None:
    first, second = hash_password("aidport-demo"), hash_password("aidport-demo")
    assert first.startswith("$argon2id$") and first != second
    assert password_matches(first, "aidport-demo") and not password_matches(first, "other")
    assert not password_matches("not a hash", "aidport-demo")


def test_csrf_tokens_match_only_when_equal_and_present() -> None:
    token = new_csrf_token()
    assert len(token) >= 40 and new_csrf_token() != token
    assert csrf_matches(token, token)
    assert not csrf_matches(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not csrf_matches(None, token) and not csrf_matches(token, None)
    assert not csrf_matches("", "")


def test_the_security_headers_forbid_inline_script_and_framing() -> None:
    headers = security_headers()
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in headers
    assert "Strict-Transport-Security" in security_headers(hsts=True)


def test_the_docs_page_policy_allows_its_own_inline_script_by_hash_only() -> None:
    html = "<body><script>run()</script><style>b{}</style></body>"
    digest = base64.b64encode(hashlib.sha256(b"run()").digest()).decode()
    policy = docs_policy(html)
    assert f"'sha256-{digest}'" in policy and "unsafe-inline" not in policy


@given(st.text(max_size=12))
def test_metric_methods_come_from_a_fixed_set(method: str) -> None:
    assert metric_method(method) in METHODS | {"OTHER"}
    assert metric_method(method) == (method if method in METHODS else "OTHER")


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        ({}, True),  # production by default, with the development secret
        ({"jwt_secret": "short-secret"}, True),
        ({"jwt_secret": SECRET, "demo_users": True}, True),
        ({"jwt_secret": SECRET}, False),
        ({"env": "development", "demo_users": True}, False),
        ({"env": "development", "oidc_issuer": "https://idp"}, True),  # no audience, no keys
    ],
)
def test_unsafe_settings_are_refused_outside_development(
    overrides: dict[str, Any], refused: bool
) -> None:
    configured = Settings(**overrides)
    assert bool(configured.unsafe_reasons()) is refused


def test_the_defaults_are_the_safe_ones() -> None:
    defaults = Settings()
    assert defaults.env == "production" and not defaults.demo_users
    assert not defaults.docs_are_public and not defaults.public_metrics
    assert defaults.jwt_secret == DEV_JWT_SECRET and defaults.unsafe_reasons()


@given(st.integers(0, 50), st.integers(1, 50), st.floats(-100, 1000))
def test_a_key_waits_only_once_over_its_limit_and_inside_its_window(
    failures: int, limit: int, left: float
) -> None:
    wait = seconds_to_wait(failures, limit, left)
    if failures < limit or left <= 0:
        assert wait is None
    else:
        assert wait is not None and wait >= 1 and wait >= left
