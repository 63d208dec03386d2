"""The API documentation (/openapi.json, /docs, /redoc): public in development, for
signed-in users otherwise, unless AIDPORT_PUBLIC_DOCS says which."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from shared.http.security import current_user

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)
_DOCS_SOURCES = "https://cdn.jsdelivr.net"


def docs_policy(html: str) -> str:
    """A CSP for a generated documentation page: its own inline blocks by hash, the CDN."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    return (
        f"default-src 'self'; script-src 'self' {_DOCS_SOURCES} {' '.join(hashes['script'])}; "
        f"style-src 'self' {_DOCS_SOURCES} https://fonts.googleapis.com "
        f"{' '.join(hashes['style'])}; font-src https://fonts.gstatic.com; "
        "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
        "worker-src blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    )


async def _allowed(request: Request) -> None:
    if not request.app.state.runtime.settings.docs_are_public:
        await current_user(request)


def _page(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = docs_policy(bytes(response.body).decode())
    return response


def docs_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    async def openapi(request: Request) -> JSONResponse:
        await _allowed(request)
        schema: dict[str, Any] = request.app.openapi()
        return JSONResponse(schema)

    @router.get("/docs")
    async def swagger(request: Request) -> HTMLResponse:
        await _allowed(request)
        return _page(get_swagger_ui_html(openapi_url="/openapi.json", title=request.app.title))

    @router.get("/redoc")
    async def redoc(request: Request) -> HTMLResponse:
        await _allowed(request)
        return _page(get_redoc_html(openapi_url="/openapi.json", title=request.app.title))

    return router
