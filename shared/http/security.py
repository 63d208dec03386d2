"""Who is calling: the bearer token (API) or the session cookie (pages), and CSRF checks.

A built-in token counts only while its account is active and at the token version it
names; an external OpenID Connect token only while the account (if the service has one)
is not disabled. A cookie rides along with any cross-site request, so every unsafe request
authenticated by the cookie must also send the CSRF token (double submit: a random
per-browser cookie and the same value in a header or form field). A bearer header
cannot be sent by another site, so it needs none.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from typing import Annotated

import jwt
from fastapi import Depends, Request

from shared.accounts import Accounts
from shared.auth import AuthError, Principal, Role, jwks_client, read_token, verify_external
from shared.http.problems import ProblemError
from shared.runtime import Runtime

CSRF_COOKIE = "aidport_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def token_cookie(service: str) -> str:
    """The session cookie's name: one per service, since cookies are not kept per port."""
    return f"aidport_{service}_token"


# -- CSRF --------------------------------------------------------------------------------


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(cookie: str | None, sent: str | None) -> bool:
    """Whether the token sent equals the browser's cookie (compared in constant time)."""
    if not cookie or not sent:
        return False
    return hmac.compare_digest(cookie.encode(), sent.encode())


def csrf_token(request: Request) -> str:
    """The browser's CSRF token, or a new one that the response must set (see rendering)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    if not hasattr(request.state, "new_csrf_token"):
        request.state.new_csrf_token = new_csrf_token()
    token: str = request.state.new_csrf_token
    return token


def require_csrf(request: Request, sent: str | None) -> None:
    if not csrf_matches(request.cookies.get(CSRF_COOKIE), sent):
        raise AuthError("the form or page is out of date (CSRF token missing); reload it", 403)


# -- tokens ------------------------------------------------------------------------------


def _token(request: Request, service: str) -> tuple[str, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(token_cookie(service))
    if cookie:
        return cookie, True
    raise AuthError("sign in first: send 'Authorization: Bearer <token>'")


def _issuer(token: str) -> object:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise AuthError("the token is not valid") from error
    return claims.get("iss")


async def authenticate(runtime: Runtime, token: str) -> Principal:
    """The user of a token, checked against this service's accounts."""
    settings = runtime.settings
    accounts = Accounts(runtime.pool)
    if settings.oidc_enabled and _issuer(token) == settings.oidc_issuer:
        principal = await _external(runtime, token)
        status = await accounts.status(principal.sub)
        if status is not None and not status.active:
            raise AuthError("this user is disabled")
        return principal
    builtin = read_token(token, settings.jwt_secret, runtime.spec.name)
    status = await accounts.status(builtin.principal.sub)
    if (
        status is None
        or not status.active
        or status.token_version != builtin.version
        or (status.demo and not settings.demo_users)
    ):
        raise AuthError("the token was revoked, or its user is unknown or disabled")
    return builtin.principal


async def _external(runtime: Runtime, token: str) -> Principal:
    settings = runtime.settings
    try:
        return await asyncio.to_thread(
            verify_external,
            token,
            jwks_client(settings.oidc_jwks_url),
            settings.oidc_issuer,
            settings.oidc_audience,
            settings.oidc_role_claim,
            settings.oidc_scope_claim,
        )
    except jwt.PyJWKClientConnectionError as error:
        raise ProblemError(
            503, "Identity provider unreachable", "the issuer's keys cannot be read", "unavailable"
        ) from error


async def current_user(request: Request) -> Principal:
    runtime: Runtime = request.app.state.runtime
    token, from_cookie = _token(request, runtime.spec.name)
    if from_cookie and request.method not in _SAFE_METHODS:
        require_csrf(request, request.headers.get(CSRF_HEADER))
    principal = await authenticate(runtime, token)
    request.state.principal = principal
    return principal


async def optional_user(request: Request) -> Principal | None:
    try:
        return await current_user(request)
    except AuthError:
        return None


CurrentUser = Annotated[Principal, Depends(current_user)]
MaybeUser = Annotated[Principal | None, Depends(optional_user)]


async def admin_user(user: CurrentUser) -> Principal:
    """An administrator; checked as a dependency, so a refusal comes before input errors."""
    user.require(Role.ADMIN)
    return user


AdminUser = Annotated[Principal, Depends(admin_user)]
