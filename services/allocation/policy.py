"""The default allocation policy, ``population-share/v1``, in integer arithmetic.

Whole packs are shared in proportion to each recipient's weight (population) by the
largest-remainder (Hamilton) method; what does not fill a whole pack stays in the national
reserve, explicitly. So allocations plus reserve always equal the cleared quantity, every
allocation is a whole number of packs, and the same input always gives the same output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.contracts.values import Lot

POLICY = "population-share/v1"


@dataclass(frozen=True)
class Allocation:
    pack_size: int
    packs: Mapping[str, int]  # recipient code -> whole packs
    reserve: int  # units kept in the national reserve

    def units(self, code: str) -> int:
        return self.packs.get(code, 0) * self.pack_size


def allocate(quantity: int, pack_size: int, weights: Mapping[str, int]) -> Allocation:
    if quantity < 0 or pack_size < 1 or any(w < 0 for w in weights.values()):
        raise ValueError("quantity >= 0, pack size >= 1 and weights >= 0 are required")
    whole_packs, loose_units = divmod(quantity, pack_size)
    total_weight = sum(weights.values())
    if total_weight == 0:
        return Allocation(pack_size, {}, quantity)
    packs = _largest_remainder(whole_packs, weights, total_weight)
    return Allocation(pack_size, packs, loose_units)


def _largest_remainder(seats: int, weights: Mapping[str, int], total: int) -> dict[str, int]:
    quotas = {code: divmod(seats * weight, total) for code, weight in weights.items()}
    packs = {code: whole for code, (whole, _) in quotas.items()}
    left = seats - sum(packs.values())
    # Ties: the larger remainder, then the larger weight, then the smaller code.
    order = sorted(weights, key=lambda code: (-quotas[code][1], -weights[code], code))
    for code in order[:left]:
        packs[code] += 1
    return packs


@dataclass
class _Stock:
    lot: Lot
    left: int

    def take(self, wanted: int) -> Lot | None:
        part = min(self.left, wanted)
        self.left -= part
        return self.lot.model_copy(update={"quantity": part}) if part else None


def assign_lots(
    shares: Mapping[str, int], lots: tuple[Lot, ...]
) -> tuple[dict[str, tuple[Lot, ...]], tuple[Lot, ...]]:
    """First expiry, first out: the largest shares take the earliest lots, splitting a lot
    where needed; the reserve keeps what remains (the latest expiring).
    Returns (lots per recipient, lots of the reserve)."""
    earliest_first = sorted(lots, key=lambda lot: (lot.expiry_date, lot.lot_number))
    stock = [_Stock(lot, lot.quantity) for lot in earliest_first]
    given = {
        code: _take(stock, shares[code]) for code in sorted(shares, key=lambda c: (-shares[c], c))
    }
    rest = tuple(s.lot.model_copy(update={"quantity": s.left}) for s in stock if s.left > 0)
    return given, rest


def _take(stock: list[_Stock], wanted: int) -> tuple[Lot, ...]:
    taken: list[Lot] = []
    for item in stock:
        if wanted == 0:
            break
        if (part := item.take(wanted)) is not None:
            taken.append(part)
            wanted -= part.quantity
    if wanted > 0:
        raise ValueError("the lots hold less than the shares to hand out")
    return tuple(taken)
