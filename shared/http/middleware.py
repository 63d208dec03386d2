"""HTTP middleware: correlation ids and request metrics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from shared.observability import HTTP_DURATION, correlation_id

Middleware = Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]


def observe(service: str) -> Middleware:
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
