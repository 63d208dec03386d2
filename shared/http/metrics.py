"""The Prometheus scrape endpoint: admin only on the service's port unless made public, and
optionally on a port of its own (prometheus_client's server, bound to a chosen address)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server

from shared.auth import Role
from shared.http.security import current_user
from shared.settings import Settings

log = logging.getLogger(__name__)


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> PlainTextResponse:
        if not request.app.state.runtime.settings.public_metrics:
            (await current_user(request)).require(Role.ADMIN)
        return PlainTextResponse(generate_latest().decode(), media_type=CONTENT_TYPE_LATEST)

    return router


def start_metrics_server(settings: Settings) -> Callable[[], None]:
    """Serves /metrics on AIDPORT_METRICS_PORT when set; returns what stops it."""
    if settings.metrics_port is None:
        return lambda: None
    server, thread = start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
