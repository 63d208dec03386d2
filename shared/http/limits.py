"""Limits at the edge, before any parsing, authentication or work: the body size, and no
control characters in the path or the query string.

A pure ASGI middleware, so that a body over the limit is refused from its declared
``Content-Length`` without parsing it, and a chunked body without a length is counted as it
streams in and refused the moment it passes the limit. A body under the limit is read
whole (at most the limit, 1 MiB by default) and handed on unchanged.

A refused body is still drained (read and dropped, up to ``DRAIN_BYTES``) before the 413 is
sent: a client writes its whole body before it reads the answer, and a server that closes
the connection on unread data makes the client see a reset instead of the 413.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import PROBLEM_JSON, problem_body

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DRAIN_BYTES = 128 * 1024 * 1024
# status, title, detail, problem code, errors per field
Refusal = tuple[int, str, str, str, list[dict[str, str]]]


class EdgeLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = _malformed(scope) or self._declared_too_large(scope)
        if refusal is not None:
            await _drain(receive)
            await _send_problem(send, scope, *refusal)
            return
        if not _has_body(scope):
            await self.app(scope, receive, send)
            return
        messages = await self._read_body(receive)
        if messages is None:
            await _drain(receive)
            await _send_problem(send, scope, *self._too_large())
            return
        await self.app(scope, _replay(messages, receive), send)

    def _declared_too_large(self, scope: Scope) -> Refusal | None:
        length = _header(scope, b"content-length")
        if length is None:
            return None
        if not length.isdigit():
            return 400, "Malformed request", "Content-Length is not a number", "malformed", []
        return self._too_large() if int(length) > self.max_body_bytes else None

    def _too_large(self) -> Refusal:
        detail = f"the request body is larger than {self.max_body_bytes} bytes"
        return 413, "Request body too large", detail, "body-too-large", []

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        """The body's messages, or None as soon as they pass the limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages  # the client went away; the app will see it
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                return messages


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1").strip())
    return None


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    return (length is not None and length != "0") or (
        _header(scope, b"transfer-encoding") is not None
    )


def _malformed(scope: Scope) -> Refusal | None:
    """A control character in the path or a query parameter: never a valid name or value
    here, and PostgreSQL refuses U+0000 in text, so it is refused before anything runs."""
    errors = []
    if _CONTROL.search(scope["path"]):
        errors.append({"field": "path", "message": "must not contain control characters"})
    query = scope.get("query_string", b"").decode("latin-1")
    if _CONTROL.search(unquote(query)):
        for name, value in parse_qsl(query, keep_blank_values=True):
            if _CONTROL.search(name) or _CONTROL.search(value):
                field = _CONTROL.sub("?", name)
                errors.append({"field": field, "message": "must not contain control characters"})
        errors = errors or [{"field": "query", "message": "must not contain control characters"}]
    if not errors:
        return None
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return 400, "Malformed request", detail, "control-characters", errors


async def _send_problem(
    send: Send,
    scope: Scope,
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, str]],
) -> None:
    instance = _CONTROL.sub("?", scope["path"])
    extra = {"errors": errors} if errors else {}
    body = json.dumps(problem_body(status, title, detail, code, instance, **extra)).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive) -> None:
    """Read the rest of a refused body and drop it, up to DRAIN_BYTES."""
    drained = 0
    while drained <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        drained += len(message.get("body", b""))


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The body as read, then the client's later messages (e.g. a disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
