"""Signing in: the development identity provider's token endpoint and the login pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from shared.auth import AuthError, Principal, demo_users, issue_token
from shared.http.deps import RuntimeDep
from shared.http.rendering import render
from shared.http.security import TOKEN_COOKIE, CurrentUser, MaybeUser
from shared.reference_data import province_codes
from shared.runtime import Runtime


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str
    scope: str


def _authenticate(runtime: Runtime, username: str, password: str) -> Principal:
    if not runtime.settings.demo_users:
        raise AuthError("the development identity provider is switched off", 404)
    user = demo_users(province_codes()).get(username)
    if user is None or not user.check(password):
        raise AuthError("unknown user or wrong password")
    return user.principal


def auth_router() -> APIRouter:
    router = APIRouter(tags=["auth"])

    @router.post("/api/v1/auth/token")
    async def token(
        form: Annotated[OAuth2PasswordRequestForm, Depends()], runtime: RuntimeDep
    ) -> TokenResponse:
        """The development identity provider (OAuth2 password flow) for the demo users."""
        principal = _authenticate(runtime, form.username, form.password)
        ttl = timedelta(minutes=runtime.settings.jwt_ttl_minutes)
        return TokenResponse(
            access_token=issue_token(principal, runtime.settings.jwt_secret, ttl),
            expires_in=int(ttl.total_seconds()),
            role=principal.role.value,
            scope=" ".join(principal.scope),
        )

    @router.get("/api/v1/auth/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"sub": user.sub, "name": user.name, "role": user.role, "scope": user.scope}

    @router.get("/login", include_in_schema=False)
    async def login_page(request: Request, user: MaybeUser) -> HTMLResponse:
        return render(request, "login.html", user=user, error=None)

    @router.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        runtime: RuntimeDep,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
    ) -> Response:
        try:
            principal = _authenticate(runtime, username, password)
        except AuthError:
            return render(request, "login.html", status_code=401, user=None, error="bad-login")
        ttl = timedelta(minutes=runtime.settings.jwt_ttl_minutes)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            TOKEN_COOKIE,
            issue_token(principal, runtime.settings.jwt_secret, ttl),
            max_age=int(ttl.total_seconds()),
            httponly=True,
            samesite="strict",
        )
        return response

    @router.post("/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(TOKEN_COOKIE)
        return response

    return router
