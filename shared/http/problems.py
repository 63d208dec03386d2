"""RFC 9457 problem details for every error: clear, per field, never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from aiokafka import errors as kafka_errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from shared.auth import AuthError
from shared.decider import (
    DomainError,
    InvalidInput,
    NotFound,
    NotPermitted,
    RuleBroken,
    StateConflict,
)
from shared.eventstore import ConcurrencyError, EventTooLarge

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://aidport.example/problems/"
RETRY_AFTER_SECONDS = 5

# A dependency that is down or unreachable: the client may retry later (503), not our bug.
OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # includes ConnectionDoesNotExistError
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    OSError,  # ConnectionRefusedError, TimeoutError of a pool acquire
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NoBrokersAvailable,
    kafka_errors.NodeNotReadyError,
)

# The one place where a kind of domain error becomes an HTTP status and a title. The most
# specific class in an error's MRO wins; a kind missing here is a 422 "rule" problem.
DOMAIN_ERRORS: dict[type[DomainError], tuple[int, str]] = {
    NotFound: (404, "Not found"),
    NotPermitted: (403, "Forbidden"),
    StateConflict: (409, "Conflict with the current state"),
    InvalidInput: (422, "Invalid command"),
    RuleBroken: (422, "Business rule violated"),
    DomainError: (422, "Business rule violated"),
}


def status_of(error: DomainError) -> tuple[int, str]:
    """The HTTP status and title of a domain error, from ``DOMAIN_ERRORS``."""
    kind = next(k for k in type(error).__mro__ if k in DOMAIN_ERRORS)
    return DOMAIN_ERRORS[kind]


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] | None = None


class ProblemError(Exception):
    """Raised by adapters for an error that is neither a rule nor auth (e.g. a bad key reuse)."""

    def __init__(self, status: int, title: str, detail: str, code: str = "error") -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.code = status, title, detail, code


def problem_body(
    status: int, title: str, detail: str, code: str, instance: str, **extra: Any
) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }


def problem(
    request: Request, status: int, title: str, detail: str, code: str, **extra: Any
) -> JSONResponse:
    body = problem_body(status, title, detail, code, request.url.path, **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _is_outage(error: BaseException) -> bool:
    if isinstance(error, OUTAGES):
        return True
    # asyncpg says "pool is closed" / "connection is closed" with its generic InterfaceError.
    return isinstance(error, asyncpg.InterfaceError) and "closed" in str(error)


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
        status, title = status_of(error)
        return problem(request, status, title, error.detail, error.code, errors=errors)

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

    @app.exception_handler(EventTooLarge)
    async def too_large(request: Request, error: EventTooLarge) -> JSONResponse:
        return problem(request, 413, "Command too large", str(error), "event-too-large")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return problem(request, error.status_code, str(error.detail), str(error.detail), "http")

    @app.exception_handler(asyncpg.QueryCanceledError)
    async def too_slow(request: Request, error: asyncpg.QueryCanceledError) -> JSONResponse:
        log.warning("statement cancelled on %s %s: %s", request.method, request.url.path, error)
        return problem(
            request,
            503,
            "Database busy",
            "the database did not answer in time; nothing was changed, try again shortly",
            "database-busy",
        )

    async def outage_or_bug(request: Request, error: Exception) -> JSONResponse:
        if _is_outage(error):
            log.warning("dependency unavailable on %s %s: %r", request.method, request.url, error)
            return problem(
                request,
                503,
                "Service unavailable",
                "a service this one depends on cannot be reached; nothing was changed, "
                "try again shortly",
                "unavailable",
            )
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(
            request,
            500,
            "Internal error",
            "an unexpected error occurred; nothing was changed",
            "internal",
        )

    for outage in (*OUTAGES, asyncpg.InterfaceError):
        app.add_exception_handler(outage, outage_or_bug)
    app.add_exception_handler(Exception, outage_or_bug)
    install_problem_docs(app)


# --- OpenAPI: every error documented as application/problem+json --------------------------

_STATUS_TITLES = {
    400: "Malformed request (e.g. a control character in the path or query)",
    401: "Not authenticated",
    403: "Forbidden for this role or scope",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body or resulting event too large",
    422: "Invalid request, with a message per field",
    429: "Too many requests",
    503: "A dependency is unavailable; retry after the given seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}}


def problem_statuses(method: str, path: str) -> list[int]:
    """The errors an operation can answer: every one can be malformed, unauthorised, too
    large, invalid or hit an outage; path parameters can miss; commands can conflict."""
    statuses = [400, 401, 403, 413, 422, 503]
    if "{" in path or method != "get":
        statuses.append(404)
    if method != "get":
        statuses += [409, 429]
    return sorted(statuses)


def install_problem_docs(app: FastAPI) -> None:
    """Replace FastAPI's ``HTTPValidationError`` with the ``Problem`` schema, everywhere."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_problems(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_problems(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    definition = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(definition.pop("$defs", {}))
    components["Problem"] = definition
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's HTTPValidationError
            for status in problem_statuses(method, path):
                # A route that documents a status itself (e.g. readiness' 503) keeps it.
                responses.setdefault(str(status), _problem_response(status))


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _STATUS_TITLES[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response
