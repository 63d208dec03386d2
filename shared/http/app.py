"""The FastAPI application every service is built on: lifespan, errors, auth, ops endpoints."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.security import OAuth2PasswordRequestForm
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from shared.auth import AuthError, Principal, Role, demo_users, issue_token
from shared.http.i18n import LANG_COOKIE, Translator, request_language
from shared.http.pages import install_page_handlers
from shared.http.problems import install_problem_handlers
from shared.http.security import TOKEN_COOKIE, CurrentUser, MaybeUser
from shared.observability import HTTP_DURATION, configure_logging, correlation_id
from shared.reference_data import province_codes
from shared.runtime import Runtime, ServiceSpec
from shared.settings import Settings

SHARED_WEB = Path(__file__).parent / "web"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str
    scope: str


def create_app(spec: ServiceSpec, settings: Settings, routers: Sequence[APIRouter]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, settings.log_level)
        await runtime.start()
        yield
        await runtime.stop()

    runtime = Runtime(spec, settings)
    app = FastAPI(
        title=f"AidPort {spec.title}", lifespan=lifespan, docs_url="/docs", version="0.1.0"
    )
    app.state.runtime = runtime
    app.state.templates = _templates(spec)
    app.state.translator = Translator(_locale_dirs(spec))
    install_problem_handlers(app)
    install_page_handlers(app)
    app.middleware("http")(_observe(spec.name))
    app.include_router(ops_router())
    app.include_router(auth_router())
    for router in routers:
        app.include_router(router)
    app.mount(
        "/static", StaticFiles(directory=SHARED_WEB / "static", check_dir=False), name="static"
    )
    return app


def _templates(spec: ServiceSpec) -> Jinja2Templates:
    folders = [SHARED_WEB / "templates"]
    if spec.package_dir is not None:
        folders.insert(0, spec.package_dir / "web" / "templates")
    templates = Jinja2Templates(directory=folders[-1])
    templates.env.loader = ChoiceLoader([FileSystemLoader(str(f)) for f in folders])
    return templates


def _locale_dirs(spec: ServiceSpec) -> list[Path]:
    dirs = [SHARED_WEB / "locale"]
    if spec.package_dir is not None:
        dirs.append(spec.package_dir / "web" / "locale")
    return dirs


def _observe(
    service: str,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        cid = request.headers.get("x-correlation-id") or str(uuid.uuid4())
        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            correlation_id.reset(token)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_DURATION.labels(service, request.method, path, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        response.headers["X-Correlation-Id"] = cid
        return response

    return middleware


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page in the reader's language, remembering a language chosen by ?lang=."""
    language = request_language(request)
    translator: Translator = request.app.state.translator
    templates: Jinja2Templates = request.app.state.templates
    runtime: Runtime = request.app.state.runtime
    response = templates.TemplateResponse(
        request,
        template,
        {"_": translator.gettext(language), "lang": language, "service": runtime.spec, **context},
        status_code=status_code,
    )
    if request.query_params.get("lang") == language:
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


def ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/health/ready")
    async def ready(runtime: RuntimeDep) -> JSONResponse:
        checks = {
            "database": await runtime.database_ready(),
            "broker": await runtime.broker_ready(),
        }
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/admin/parked")
    async def parked(runtime: RuntimeDep, user: CurrentUser) -> list[dict[str, Any]]:
        user.require(Role.ADMIN)
        if runtime.consumer is None:
            return []
        return [p.__dict__ for p in await runtime.consumer.parked()]

    @router.post("/admin/parked/{subject}/retry")
    async def retry(subject: str, runtime: RuntimeDep, user: CurrentUser) -> dict[str, Any]:
        user.require(Role.ADMIN)
        if runtime.consumer is None:
            return {"subject": subject, "still_parked": 0}
        return {"subject": subject, "still_parked": await runtime.consumer.retry_parked(subject)}

    @router.post("/admin/projections/rebuild")
    async def rebuild(runtime: RuntimeDep, user: CurrentUser) -> dict[str, int]:
        user.require(Role.ADMIN)
        return {"events_replayed": await runtime.rebuild_projections()}

    return router


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
