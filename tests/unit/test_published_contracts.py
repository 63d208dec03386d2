"""The published JSON Schemas and AsyncAPI document match the event models."""

from __future__ import annotations

from shared.contracts.publish import DOCS, documents


def test_docs_events_are_up_to_date() -> None:
    expected = documents()
    stale = [
        name
        for name, text in expected.items()
        if not (DOCS / name).exists() or (DOCS / name).read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run: python -m shared.contracts.publish"
    assert {p.name for p in DOCS.iterdir()} == set(expected)
