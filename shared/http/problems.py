"""RFC 9457 problem details for every error: clear, per field, never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from shared.auth import AuthError
from shared.decider import DomainError
from shared.eventstore import ConcurrencyError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://aidport.example/problems/"


class ProblemError(Exception):
    """Raised by adapters for an error that is neither a rule nor auth (e.g. a bad key reuse)."""

    def __init__(self, status: int, title: str, detail: str, code: str = "error") -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.code = status, title, detail, code


def problem(
    request: Request, status: int, title: str, detail: str, code: str, **extra: Any
) -> JSONResponse:
    body = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return "/".join(parts) or str(loc[0] if loc else "request")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in error.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(
            request, 422, "The request is not valid", summary, "validation", errors=errors
        )

    @app.exception_handler(DomainError)
    async def rule_broken(request: Request, error: DomainError) -> JSONResponse:
        errors = [{"field": error.field, "message": error.detail}] if error.field else []
        return problem(request, error.status, error.title, error.detail, error.code, errors=errors)

    @app.exception_handler(AuthError)
    async def not_allowed(request: Request, error: AuthError) -> JSONResponse:
        title = "Not authenticated" if error.status == 401 else "Forbidden"
        return problem(request, error.status, title, error.detail, "auth")

    @app.exception_handler(ConcurrencyError)
    async def conflict(request: Request, error: ConcurrencyError) -> JSONResponse:
        return problem(
            request,
            409,
            "Concurrent change",
            "the record changed while this command ran; reload and try again",
            "concurrency",
        )

    @app.exception_handler(ProblemError)
    async def explicit(request: Request, error: ProblemError) -> JSONResponse:
        return problem(request, error.status, error.title, error.detail, error.code)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return problem(request, error.status_code, str(error.detail), str(error.detail), "http")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(
            request,
            500,
            "Internal error",
            "an unexpected error occurred; nothing was changed",
            "internal",
        )
