"""The edge middleware, cursors and the problem documentation, without infrastructure."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from services.allocation import api as allocation_api
from services.allocation.main import SPEC as ALLOCATION
from services.customs import api as customs_api
from services.customs.main import SPEC as CUSTOMS
from services.intake import api as intake_api
from services.intake.main import SPEC as INTAKE
from shared.http.app import create_app
from shared.http.limits import EdgeLimits
from shared.http.pagination import decode_cursor, encode_cursor, moment, position
from shared.http.problems import PROBLEM_JSON, ProblemError
from shared.settings import Settings

LIMIT = 1024


class Echo:
    """Answers with the size of the body it read; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


def client(app: Echo) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=EdgeLimits(app, max_body_bytes=LIMIT))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def chunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


async def test_a_body_at_the_limit_passes_whole() -> None:
    app = Echo()
    async with client(app) as http:
        assert (await http.post("/", content=b"x" * LIMIT)).text == str(LIMIT)
        assert (await http.post("/", content=chunks(LIMIT))).text == str(LIMIT)
        assert (await http.get("/")).text == "0"
    assert app.calls == 3


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    app = Echo()
    async with client(app) as http:
        problem = assert_problem(await http.post("/x", content=b"x" * (LIMIT + 1)), 413)
    assert str(LIMIT) in problem["detail"] and problem["instance"] == "/x"
    assert app.calls == 0


async def test_a_chunked_body_is_refused_once_it_passes_the_limit() -> None:
    app = Echo()
    async with client(app) as http:
        response = await http.post("/", content=chunks(LIMIT + 1))
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert app.calls == 0


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api?airport=HA%00N", "airport"),
        ("/api?cursor=%1b%5b31m", "cursor"),
        ("/api?a=1&na%7Fme=2", "na?me"),
        ("/api/v1/provinces/01%00/notices", "path"),
    ],
)
async def test_control_characters_in_the_path_or_query_are_refused(url: str, field: str) -> None:
    app = Echo()
    async with client(app) as http:
        problem = assert_problem(await http.get(url), 400)
    assert [e["field"] for e in problem["errors"]] == [field]
    assert app.calls == 0


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_cursor_round_trips() -> None:
    sid = UUID(int=7)
    cursor = encode_cursor("2026-01-02T03:04:05+00:00", sid)
    assert decode_cursor(cursor, moment, UUID) == [moment("2026-01-02T03:04:05+00:00"), sid]
    assert decode_cursor(encode_cursor(42), position) == [42]


@pytest.mark.parametrize(
    "cursor",
    [
        "zz",
        "%%%",
        cursor_of(["not a date", str(UUID(int=1))]),
        cursor_of(["2026-01-02T03:04:05", str(UUID(int=1))]),  # no zone
        cursor_of(["9999-12-31T23:59:59-14:00", str(UUID(int=1))]),  # past year 9999 in UTC
        cursor_of(["2026-01-02T03:04:05+00:00", "not-a-uuid"]),
        cursor_of(["2026-01-02T03:04:05+00:00"]),
        cursor_of({"a": 1}),
        cursor_of([[1], {"b": 2}]),
    ],
)
def test_a_cursor_that_decodes_to_garbage_is_a_422(cursor: str) -> None:
    with pytest.raises(ProblemError) as refused:
        decode_cursor(cursor, moment, UUID)
    assert refused.value.status == 422


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists, max_leaves=5))
def test_any_json_cursor_is_parsed_or_refused_with_a_422(value: Any) -> None:
    for kinds in ((moment, UUID), (position,)):
        try:
            decode_cursor(cursor_of(value), *kinds)
        except ProblemError as refused:
            assert refused.status == 422


@pytest.mark.parametrize("value", ["-1", str(2**63), "1e3", "NaN"])
def test_a_position_cursor_must_be_a_bigint(value: str) -> None:
    with pytest.raises(ProblemError):
        decode_cursor(cursor_of([value]), position)


@pytest.mark.parametrize(
    ("spec", "router"),
    [
        (INTAKE, intake_api.router),
        (CUSTOMS, customs_api.router),
        (ALLOCATION, allocation_api.router),
    ],
)
def test_every_error_is_documented_as_a_problem(spec: Any, router: Any) -> None:
    schema = create_app(spec, Settings(service=spec.name), [router]).openapi()
    text = json.dumps(schema)
    assert "HTTPValidationError" not in text and "#/components/schemas/ValidationError" not in text
    assert "Problem" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "413", "422", "503"):
                content = operation["responses"][status]["content"]
                assert list(content) == [PROBLEM_JSON], (method, path, status)
            if method == "post":
                assert "409" in operation["responses"], (method, path)
