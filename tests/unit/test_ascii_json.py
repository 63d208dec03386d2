"""The relay's JSON: orjson's speed, ``json.dumps``'s bytes (every non-ASCII character
escaped), so that the published size the event store checks stays exact."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.envelope import ascii_json

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Any text: control characters, DEL, Vietnamese, beyond the BMP and lone surrogates.
TEXT = st.text(st.characters(exclude_categories=[]), max_size=20)


def json_values(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
        max_leaves=12,
    )


def stdlib(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


@given(json_values(st.none() | st.booleans() | INT64 | st.integers() | TEXT))
def test_without_floats_the_bytes_are_those_of_json_dumps(data: Any) -> None:
    assert ascii_json(data) == stdlib(data)


@given(json_values(st.floats(allow_nan=False, allow_infinity=False) | TEXT | INT64))
def test_with_floats_the_text_is_ascii_and_reads_back_the_same(data: Any) -> None:
    encoded = ascii_json(data)
    assert encoded.isascii()
    assert json.loads(encoded) == data


def test_vietnamese_and_beyond_the_bmp_are_escaped_as_the_standard_library_does() -> None:
    data = {"province": "Thành phố Hồ Chí Minh", "note": "vaccine 💉", "del": "\x7f"}
    assert ascii_json(data) == stdlib(data)
    assert b"\\u1ed3" in ascii_json(data) and b"\\ud83d\\udc89" in ascii_json(data)
