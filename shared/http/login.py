"""Signing in and out: the built-in issuer's token endpoint, the login pages, logout, and
the admin's switch to disable or enable a user (which revokes the user's tokens)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from shared.accounts import Accounts, LoginThrottle
from shared.auth import DEMO_PASSWORD, AuthError, Principal, demo_users, issue_token
from shared.http.deps import RuntimeDep
from shared.http.problems import ProblemError, problem
from shared.http.rendering import render
from shared.http.security import AdminUser, CurrentUser, MaybeUser, require_csrf, token_cookie
from shared.reference_data import province_codes
from shared.runtime import Runtime


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str
    scope: str


class UserState(BaseModel):
    sub: str
    active: bool


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


async def prepare_identity(runtime: Runtime) -> None:
    """At start: the demo users become accounts when the demo identity provider is on."""
    if runtime.settings.demo_users:
        users = demo_users(province_codes()).values()
        await Accounts(runtime.pool).seed_demo((u.principal for u in users), DEMO_PASSWORD)


def _throttle(runtime: Runtime) -> LoginThrottle:
    s = runtime.settings
    return LoginThrottle(
        runtime.pool, s.login_window_seconds, s.login_failures_per_user, s.login_failures_per_client
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _authenticate(
    runtime: Runtime, request: Request, username: str, password: str
) -> tuple[Principal, int]:
    """The user and its token version; raises Throttled or AuthError."""
    throttle, client = _throttle(runtime), _client(request)
    wait = await throttle.retry_after(username, client)
    if wait is not None:
        raise Throttled(wait)
    account = await Accounts(runtime.pool).authenticate(
        username, password, demo=runtime.settings.demo_users
    )
    if account is None:
        await throttle.failed(username, client)
        raise AuthError("unknown user or wrong password")
    await throttle.succeeded(username)
    return account.principal, account.token_version


def _token_for(runtime: Runtime, principal: Principal, version: int) -> tuple[str, timedelta]:
    ttl = timedelta(minutes=runtime.settings.jwt_ttl_minutes)
    token = issue_token(principal, runtime.settings.jwt_secret, ttl, runtime.spec.name, version)
    return token, ttl


def auth_router() -> APIRouter:
    router = APIRouter(tags=["auth"])

    @router.post(
        "/api/v1/auth/token",
        response_model=TokenResponse,
        responses={
            429: {
                "description": "too many failed sign-ins; see Retry-After",
                "content": {"application/problem+json": {}},
            }
        },
    )
    async def token(
        request: Request,
        form: Annotated[OAuth2PasswordRequestForm, Depends()],
        runtime: RuntimeDep,
    ) -> Any:
        """The built-in issuer (OAuth2 password flow); the token counts at this service only."""
        try:
            principal, version = await _authenticate(runtime, request, form.username, form.password)
        except Throttled as throttled:
            return _too_many(request, throttled.retry_after)
        access_token, ttl = _token_for(runtime, principal, version)
        return TokenResponse(
            access_token=access_token,
            expires_in=int(ttl.total_seconds()),
            role=principal.role.value,
            scope=" ".join(principal.scope),
        )

    @router.post("/api/v1/auth/logout", status_code=204)
    async def api_logout(user: CurrentUser, runtime: RuntimeDep) -> Response:
        """Revokes every token of the caller that this service has issued."""
        await Accounts(runtime.pool).revoke(user.sub)
        return Response(status_code=204)

    @router.get("/api/v1/auth/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"sub": user.sub, "name": user.name, "role": user.role, "scope": user.scope}

    @router.post("/admin/users/{sub}/disable", response_model=UserState)
    async def disable(sub: str, runtime: RuntimeDep, _: AdminUser) -> UserState:
        """The user's tokens stop counting at once, and it cannot sign in until enabled."""
        return await _set_active(runtime, sub, active=False)

    @router.post("/admin/users/{sub}/enable", response_model=UserState)
    async def enable(sub: str, runtime: RuntimeDep, _: AdminUser) -> UserState:
        return await _set_active(runtime, sub, active=True)

    @router.get("/login", include_in_schema=False)
    async def login_page(request: Request, user: MaybeUser) -> HTMLResponse:
        return render(request, "login.html", user=user, error=None)

    @router.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        runtime: RuntimeDep,
        username: Annotated[str, Form(max_length=200)],
        password: Annotated[str, Form(max_length=1000)],
        csrf_token: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        try:
            require_csrf(request, csrf_token)
            principal, version = await _authenticate(runtime, request, username, password)
        except Throttled as throttled:
            page = render(request, "login.html", status_code=429, user=None, error="throttled")
            page.headers["Retry-After"] = str(throttled.retry_after)
            return page
        except AuthError as error:
            reason = "bad-form" if error.status == 403 else "bad-login"
            return render(request, "login.html", status_code=error.status, user=None, error=reason)
        access_token, ttl = _token_for(runtime, principal, version)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            token_cookie(runtime.spec.name),
            access_token,
            max_age=int(ttl.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=not runtime.settings.development,
        )
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout(
        request: Request,
        runtime: RuntimeDep,
        user: MaybeUser,
        csrf_token: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        """Signs out of this service everywhere: every token it issued to the user is revoked."""
        require_csrf(request, csrf_token)
        if user is not None:
            await Accounts(runtime.pool).revoke(user.sub)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(token_cookie(runtime.spec.name))
        return response

    return router


async def _set_active(runtime: Runtime, sub: str, active: bool) -> UserState:
    create = runtime.settings.oidc_enabled  # users of an external issuer may have no account
    if not await Accounts(runtime.pool).set_active(sub, active, create=create):
        raise ProblemError(404, "Unknown user", f"no user {sub} at this service", "not-found")
    return UserState(sub=sub, active=active)


def _too_many(request: Request, retry_after: int) -> JSONResponse:
    response = problem(
        request,
        429,
        "Too many failed sign-ins",
        f"try again in {retry_after} s",
        "throttled",
    )
    response.headers["Retry-After"] = str(retry_after)
    return response
