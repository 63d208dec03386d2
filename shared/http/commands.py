"""Running a command from an HTTP request: metadata, one transaction, Idempotency-Key."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.application import in_transaction
from shared.auth import Principal
from shared.contracts.base import JsonDict
from shared.db import Conn
from shared.http.idempotency import Response, once, request_hash
from shared.observability import correlation_id
from shared.runtime import Runtime

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="a retry with the same key returns the first result instead of acting twice",
    ),
]


def command_metadata(user: Principal, request: Request | None = None) -> JsonDict:
    """Who did it and in which conversation: goes into every event the command records."""
    return {
        **user.as_metadata(),
        "correlation_id": correlation_id.get() or str(uuid.uuid4()),
        "causation_id": request.headers.get("x-request-id") if request else None,
    }


class FastJSONResponse(JSONResponse):
    """The same compact UTF-8 JSON as ``JSONResponse``, encoded by orjson (several times
    faster than ``json.dumps`` on a command's answer)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def run_command(
    request: Request,
    runtime: Runtime,
    user: Principal,
    body: BaseModel | Any,
    action: Callable[[Conn], Awaitable[Response]],
    key: str | None,
) -> JSONResponse:
    """Run ``action`` in one transaction; with an Idempotency-Key, at most once per key.

    ``body`` (a model, or its JSON form) is fingerprinted only when a key is sent."""
    scope = f"{user.sub} {request.method} {request.url.path}"
    fingerprint = "" if key is None else request_hash(_json_form(body))

    async def work(conn: Conn) -> Response:
        return await once(conn, scope, key, fingerprint, action)

    status, payload = await in_transaction(runtime.pool, work)
    return FastJSONResponse(payload, status_code=status)


def _json_form(body: BaseModel | Any) -> Any:
    return body.model_dump(mode="json") if isinstance(body, BaseModel) else body
