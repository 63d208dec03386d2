"""Pure ASGI middleware: correlation ids, request metrics and the security headers.

Pure ASGI (no ``BaseHTTPMiddleware``): streamed responses such as the live feeds pass
through untouched, and the route template is read from the scope after routing.
"""

from __future__ import annotations

import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability import HTTP_DURATION, correlation_id

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

# No inline script or style anywhere: the pages' code is in /static.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def metric_method(method: str) -> str:
    """The method as a metric label: one of a fixed set, so clients cannot add series."""
    return method if method in METHODS else "OTHER"


def metric_route(scope: Scope) -> str:
    """The route template that served the request (never the raw path), or "unmatched"."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"


def security_headers(csp: str = CONTENT_SECURITY_POLICY, hsts: bool = False) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if hsts:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


class Observe:
    """Correlation id in and out, and the request duration by route template and status."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = Headers(scope=scope).get("x-correlation-id") or str(uuid.uuid4())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Correlation-Id"] = cid
            await send(message)

        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            correlation_id.reset(token)
            HTTP_DURATION.labels(
                self.service, metric_method(scope["method"]), metric_route(scope), str(status)
            ).observe(time.perf_counter() - started)


class SecurityHeaders:
    """The security headers on every response; a header a route set itself is kept."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.headers = security_headers(hsts=hsts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
