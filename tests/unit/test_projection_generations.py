"""Applying a batch generation by generation, in any order inside each, equals applying
its events one by one (the rule that lets projections use executemany per statement)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.projections import generations

Event = tuple[int, int]  # (key, value): each event rewrites its key's row from the last one


def _apply(rows: dict[int, list[int]], event: Event) -> None:
    key, value = event
    rows[key] = [*rows.get(key, []), value]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers()), max_size=60), st.randoms())
def test_generations_in_any_inner_order_equal_one_by_one(events: list[Event], rnd: object) -> None:
    one_by_one: dict[int, list[int]] = {}
    for event in events:
        _apply(one_by_one, event)

    by_generation: dict[int, list[int]] = {}
    for generation in generations(events, key=lambda e: e[0]):
        assert len({k for k, _ in generation}) == len(generation)  # a key once per generation
        shuffled = list(generation)
        rnd.shuffle(shuffled)  # type: ignore[attr-defined]
        for event in shuffled:
            _apply(by_generation, event)

    assert by_generation == one_by_one
    assert sum(len(g) for g in generations(events, key=lambda e: e[0])) == len(events)
