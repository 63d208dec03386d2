"""Apportionment: whole seats (packs or cartons) shared in proportion to integer weights.

Two methods, both in integer arithmetic and deterministic (ties: the larger weight, then
the smaller code):

- Hamilton (largest remainder): everyone gets the whole part of its exact quota, the seats
  left go to the largest remainders. It always stays within one seat of the exact quota,
  but shows the Alabama paradox: one more seat in the house can cost a recipient a seat.
- Webster / Sainte-Laguë (a divisor method): seats go one by one to the highest
  ``weight / (seats + 1/2)``. It is free of the Alabama paradox (house monotone), but in
  rare cases departs from the exact quota by more than one seat.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from enum import StrEnum


class Method(StrEnum):
    HAMILTON = "hamilton"
    WEBSTER = "webster"


Apportion = Callable[[int, Mapping[str, int]], dict[str, int]]


def hamilton(seats: int, weights: Mapping[str, int]) -> dict[str, int]:
    total = sum(weights.values())
    if total == 0:
        return dict.fromkeys(weights, 0)
    quotas = {code: divmod(seats * weight, total) for code, weight in weights.items()}
    result = {code: whole for code, (whole, _) in quotas.items()}
    left = seats - sum(result.values())  # fewer than len(weights), by construction
    order = sorted(weights, key=lambda code: (-quotas[code][1], -weights[code], code))
    for code in order[:left]:
        result[code] += 1
    return result


def webster(seats: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Highest averages with divisors 1/2, 3/2, 5/2...: the greedy order, started from a
    lower bound so that 10^9 seats cost no more than a few dozen heap steps."""
    total = sum(weights.values())
    result = dict.fromkeys(weights, 0)
    if total == 0 or seats == 0:
        return result
    # Every seat whose average exceeds total / (seats - n) is among the first ``seats``
    # given (at most seats - n/2 of them), so start there and hand out the rest greedily.
    base = seats - len(weights)
    if base > 0:
        for code, weight in weights.items():
            above = 2 * weight * base - total  # averages w/(k+1/2) > total/base for k < above/2T
            result[code] = (above + 2 * total - 1) // (2 * total) if above > 0 else 0
    heap = [_entry(code, weight, result[code]) for code, weight in weights.items() if weight]
    heapq.heapify(heap)
    for _ in range(seats - sum(result.values())):
        _, _, code = heapq.heappop(heap)
        result[code] += 1
        heapq.heappush(heap, _entry(code, weights[code], result[code]))
    return result


class _Average:
    """``weight / (2 * seats + 1)`` compared exactly (cross-multiplied), largest first."""

    __slots__ = ("den", "num")

    def __init__(self, num: int, den: int) -> None:
        self.num, self.den = num, den

    def __lt__(self, other: _Average) -> bool:  # reversed: heapq pops the smallest
        return self.num * other.den > other.num * self.den

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Average) and self.num * other.den == other.num * self.den

    __hash__ = None  # type: ignore[assignment]  # compared, never hashed


def _entry(code: str, weight: int, seats: int) -> tuple[_Average, int, str]:
    return (_Average(weight, 2 * seats + 1), -weight, code)


METHODS: dict[Method, Apportion] = {Method.HAMILTON: hamilton, Method.WEBSTER: webster}


def apportion_capped(
    seats: int, weights: Mapping[str, int], method: Method, caps: Mapping[str, int]
) -> tuple[dict[str, int], frozenset[str]]:
    """Apportion, then hold anyone over its cap at the cap and share the rest again among
    the others. Returns the seats per code and the codes held at their cap; seats nobody
    may take (everyone capped) are simply not given."""
    result = dict.fromkeys(weights, 0)
    active = {code: w for code, w in weights.items() if w > 0}
    capped: set[str] = set()
    left = seats
    while active and left > 0:
        got = METHODS[method](left, active)
        over = [code for code in active if code in caps and got[code] > caps[code]]
        if not over:
            result.update(got)
            break
        for code in over:
            result[code] = caps[code]
            left -= caps[code]
            capped.add(code)
            del active[code]
    return result, frozenset(capped)
