"""The app factory every service is built on: lifespan, error handlers, middleware, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from shared.http.admin import router as admin_page_router
from shared.http.docs import docs_router
from shared.http.i18n import Translator
from shared.http.limits import EdgeLimits
from shared.http.login import auth_router, prepare_identity
from shared.http.metrics import metrics_router, start_metrics_server
from shared.http.middleware import Observe, SecurityHeaders
from shared.http.ops import ops_router
from shared.http.pages import install_page_handlers
from shared.http.problems import install_problem_handlers
from shared.http.rendering import SHARED_WEB, locale_dirs, templates_for
from shared.observability import configure_logging
from shared.retention import keep_tidy, shared_sweeps
from shared.runtime import Runtime, ServiceSpec
from shared.settings import Settings


def create_app(spec: ServiceSpec, settings: Settings, routers: Sequence[APIRouter]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(spec.name, settings.log_level)
        settings.require_safe()  # also when the app runs in-process, not by `serve`
        await runtime.start()
        sweeps = [*shared_sweeps(settings), *(sweep() for sweep in spec.sweeps)]
        runtime.spawn(keep_tidy(runtime.pool, sweeps), "retention")
        await prepare_identity(runtime)
        stop_metrics = start_metrics_server(settings)
        yield
        stop_metrics()
        await runtime.stop()

    runtime = Runtime(spec, settings)
    app = FastAPI(
        title=f"AidPort {spec.title}",
        lifespan=lifespan,
        version="0.1.0",
        docs_url=None,  # served by docs_router, which may ask for a signed-in user
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    app.state.templates = templates_for(spec)
    app.state.translator = Translator(locale_dirs(spec))
    install_problem_handlers(app)
    install_page_handlers(app)
    app.add_middleware(EdgeLimits, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, hsts=not settings.development)
    app.add_middleware(Observe, service=spec.name)
    app.include_router(ops_router())
    app.include_router(admin_page_router)
    app.include_router(metrics_router())
    app.include_router(docs_router())
    app.include_router(auth_router())
    for router in routers:
        app.include_router(router)
    app.mount(
        "/static", StaticFiles(directory=SHARED_WEB / "static", check_dir=False), name="static"
    )
    return app
