"""Keyset pagination: a list endpoint returns a page and an opaque cursor for the next one."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
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


def moment(text: str) -> datetime:
    """A cursor's timestamp: with a zone, and one PostgreSQL can store."""
    value = datetime.fromisoformat(text)
    if value.utcoffset() is None:
        raise ValueError("a cursor time carries a zone")
    return value.astimezone(UTC)  # OverflowError at the edges of the calendar


def position(text: str) -> int:
    value = int(text)
    if not 0 <= value < 2**63:
        raise ValueError("a position is a bigint")
    return value


def decode_cursor(cursor: str | None, *kinds: Callable[[str], Any]) -> list[Any] | None:
    """The sort key a cursor holds, each part parsed by its kind (``moment``, ``UUID``, ...).

    A cursor is opaque to clients; one that is not well formed is a 422, never a 500."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
        if isinstance(values, list) and len(values) == len(kinds):
            return [kind(str(value)) for kind, value in zip(kinds, values, strict=True)]
    except (ValueError, OverflowError, TypeError, binascii.Error, RecursionError):
        pass
    raise ProblemError(422, "Invalid cursor", "the cursor is not one this API returned", "cursor")


def page_of(items: Sequence[T], limit: int, sort_key: Callable[[T], Sequence[Any]]) -> Page[T]:
    """A page from ``limit + 1`` fetched items; the cursor holds the last item's sort key."""
    cursor = None
    if len(items) > limit:
        cursor = encode_cursor(*(_plain(value) for value in sort_key(items[limit - 1])))
    return Page[T](items=list(items[:limit]), next_cursor=cursor)


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
