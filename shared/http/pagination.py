"""Keyset pagination: a list endpoint returns a page and an opaque cursor for the next one."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from shared.http.problems import ProblemError

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([str(v) for v in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, parts: int) -> list[str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if isinstance(values, list) and len(values) == parts:
            return [str(v) for v in values]
    except ValueError:
        pass
    raise ProblemError(422, "Invalid cursor", "the cursor is not one this API returned", "cursor")


def page_of(
    rows: Sequence[Any], limit: int, item: Callable[[Any], Any], *cursor_columns: str
) -> dict[str, Any]:
    """A page from ``limit + 1`` fetched rows; the cursor holds the last row's sort key."""
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    cursor = None
    if last is not None:
        cursor = encode_cursor(*(_plain(last[column]) for column in cursor_columns))
    return {"items": [item(row) for row in rows[:limit]], "next_cursor": cursor}


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
