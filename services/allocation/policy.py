"""The arithmetic of the default policy, ``population-share`` v1, in integer arithmetic
(the policies themselves are data: ``policies/``).

Whole packs are shared in proportion to each recipient's weight (population) by the
largest-remainder (Hamilton) method; what does not fill a whole pack stays in the national
reserve, explicitly. So allocations plus reserve always equal the cleared quantity, every
allocation is a whole number of packs, and the same input always gives the same output.
Integers only: floats would make a 10^9-dose round depend on rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from services.allocation.policies.apportion import hamilton
from shared.contracts.values import Lot

POLICY = "population-share/v1"
RESERVE = "reserve"  # the key of the national reserve's lots in ``assign_lots``


@dataclass(frozen=True)
class Allocation:
    pack_size: int
    packs: Mapping[str, int]  # recipient code -> whole packs
    reserve: int  # units kept in the national reserve

    def units(self, code: str) -> int:
        return self.packs.get(code, 0) * self.pack_size

    @property
    def shares(self) -> Mapping[str, int]:
        """Units per recipient (zero shares included)."""
        return MappingProxyType({code: n * self.pack_size for code, n in self.packs.items()})


def allocate(quantity: int, pack_size: int, weights: Mapping[str, int]) -> Allocation:
    if quantity < 0 or pack_size < 1 or any(w < 0 for w in weights.values()):
        raise ValueError("quantity >= 0, pack size >= 1 and weights >= 0 are required")
    whole_packs, loose_units = divmod(quantity, pack_size)
    total_weight = sum(weights.values())
    if total_weight == 0:  # nobody to give to: everything stays in reserve
        return Allocation(pack_size, MappingProxyType(dict.fromkeys(weights, 0)), quantity)
    packs = hamilton(whole_packs, weights)
    return Allocation(pack_size, MappingProxyType(dict(sorted(packs.items()))), loose_units)


@dataclass
class _Stock:
    lot: Lot
    left: int

    def take(self, wanted: int) -> Lot | None:
        part = min(self.left, wanted)
        self.left -= part
        return self.lot.model_copy(update={"quantity": part}) if part else None


def assign_lots(shares: Mapping[str, int], lots: tuple[Lot, ...]) -> dict[str, tuple[Lot, ...]]:
    """First expiry, first out: the largest shares take the earliest-expiring lots, splitting a
    lot where needed, so that the biggest (fastest-using) recipients get the shortest-dated
    stock. The ``RESERVE`` entry keeps what remains, the latest-expiring.

    Every recipient's lots add up to its share; every lot's parts add up to the lot.
    """
    if RESERVE in shares:
        raise ValueError(f"{RESERVE!r} is not a recipient code")
    if any(share < 0 for share in shares.values()):
        raise ValueError("shares are not negative")
    if sum(shares.values()) > sum(lot.quantity for lot in lots):
        raise ValueError("the lots hold less than the shares to hand out")
    earliest_first = sorted(lots, key=lambda lot: (lot.expiry_date, lot.lot_number))
    stock = [_Stock(lot, lot.quantity) for lot in earliest_first]
    given = {
        code: _take(stock, shares[code]) for code in sorted(shares, key=lambda c: (-shares[c], c))
    }
    given[RESERVE] = tuple(s.lot.model_copy(update={"quantity": s.left}) for s in stock if s.left)
    return given


def _take(stock: list[_Stock], wanted: int) -> tuple[Lot, ...]:
    taken: list[Lot] = []
    for item in stock:
        if wanted == 0:
            break
        if (part := item.take(wanted)) is not None:
            taken.append(part)
            wanted -= part.quantity
    return tuple(taken)
