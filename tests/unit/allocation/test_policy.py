"""The allocation arithmetic: properties that must hold for every input."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.allocation.policy import RESERVE, allocate, assign_lots
from shared.contracts.values import Lot
from shared.reference_data import provinces

codes = st.text(alphabet="0123456789", min_size=2, max_size=2)
weights = st.dictionaries(codes, st.integers(1, 20_000_000), min_size=1, max_size=40)
quantities = st.integers(0, 10**9)
pack_sizes = st.integers(1, 10_000)


# --- allocate -------------------------------------------------------------------------------


@given(quantities, pack_sizes, weights)
def test_shares_and_reserve_add_up_to_the_quantity(
    quantity: int, pack: int, w: dict[str, int]
) -> None:
    allocation = allocate(quantity, pack, w)
    assert set(allocation.shares) == set(w)
    assert sum(allocation.shares.values()) + allocation.reserve == quantity
    assert allocation.reserve == quantity % pack  # only loose units stay back
    assert all(share % pack == 0 for share in allocation.shares.values())
    assert all(p >= 0 for p in allocation.packs.values())
    assert all(allocation.units(c) == allocation.packs[c] * pack for c in w)


@given(quantities, pack_sizes, weights)
def test_a_larger_weight_never_gets_fewer_packs(
    quantity: int, pack: int, w: dict[str, int]
) -> None:
    packs = allocate(quantity, pack, w).packs
    by_weight = sorted(w, key=lambda c: w[c])
    for smaller, larger in itertools.pairwise(by_weight):
        if w[larger] > w[smaller]:
            assert packs[larger] >= packs[smaller]
        else:  # equal weights: the tie-break may give one of them one pack more
            assert abs(packs[larger] - packs[smaller]) <= 1


@given(quantities, pack_sizes, weights)
def test_each_share_is_within_one_pack_of_its_exact_quota(
    quantity: int, pack: int, w: dict[str, int]
) -> None:
    """|packs - whole * weight / total| < 1, compared in integers (no float rounding)."""
    packs = allocate(quantity, pack, w).packs
    whole, total = quantity // pack, sum(w.values())
    for code, weight in w.items():
        assert abs(packs[code] * total - whole * weight) < total


@given(quantities, pack_sizes, weights, st.randoms(use_true_random=False))
def test_the_same_input_gives_the_same_output_in_any_order(
    quantity: int, pack: int, w: dict[str, int], shuffle: random.Random
) -> None:
    items = list(w.items())
    shuffle.shuffle(items)
    first = allocate(quantity, pack, w)
    assert allocate(quantity, pack, dict(items)) == first
    assert allocate(quantity, pack, dict(w)) == first


def test_largest_remainders_take_the_leftover_packs() -> None:
    # 11 packs over 5:3:2: quotas 5.5, 3.3 and 2.2; the one pack left goes to the 0.5.
    assert allocate(110, 10, {"01": 5, "79": 3, "48": 2}).packs == {"01": 6, "79": 3, "48": 2}
    assert allocate(100, 10, {"01": 5, "79": 3, "48": 2}).packs == {"01": 5, "79": 3, "48": 2}


def test_ties_go_to_the_larger_weight_then_the_smaller_code() -> None:
    assert allocate(30, 10, {"02": 1, "01": 1}).packs == {"01": 2, "02": 1}
    # 2 packs over 1:3: quotas 0.5 and 1.5, equal remainders; the larger weight wins.
    assert allocate(2, 1, {"01": 1, "02": 3}).packs == {"01": 0, "02": 2}
    assert allocate(1, 1, {"09": 2, "01": 2}).packs == {"01": 1, "09": 0}


def test_less_than_a_pack_stays_in_reserve() -> None:
    allocation = allocate(13, 14, {"01": 1, "79": 2})
    assert allocation.packs == {"01": 0, "79": 0} and allocation.reserve == 13


def test_no_weight_keeps_everything_in_reserve() -> None:
    assert allocate(123, 10, {}).reserve == 123
    assert allocate(123, 10, {"01": 0}).reserve == 123


@pytest.mark.parametrize(("quantity", "pack", "w"), [(-1, 1, {}), (1, 0, {}), (1, 1, {"01": -1})])
def test_impossible_inputs_are_refused(quantity: int, pack: int, w: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        allocate(quantity, pack, w)


@pytest.mark.parametrize(("pack", "reserve"), [(14, 0), (1_680, 840)])
def test_a_2021_round_adds_up_over_the_34_provinces(pack: int, reserve: int) -> None:
    """Decision 3400/QD-BYT: 2,000,040 Moderna doses, in 14-dose vials or 1,680-dose cartons."""
    weights = {p.code: p.population_scale for p in provinces()}
    allocation = allocate(2_000_040, pack, weights)
    assert len(weights) == 34
    assert sum(allocation.shares.values()) + allocation.reserve == 2_000_040
    assert allocation.reserve == reserve
    assert all(share % pack == 0 for share in allocation.shares.values())
    assert allocation.packs["79"] == max(allocation.packs.values())  # Ho Chi Minh City


# --- assign_lots ----------------------------------------------------------------------------

lot_specs = st.lists(st.tuples(st.integers(1, 50_000), st.integers(0, 400)), min_size=1, max_size=6)


def make_lots(specs: list[tuple[int, int]]) -> tuple[Lot, ...]:
    return tuple(
        Lot(lot_number=f"L{i}", expiry_date=date(2027, 1, 1) + timedelta(days=days), quantity=q)
        for i, (q, days) in enumerate(specs)
    )


def fefo_key(lot: Lot) -> tuple[date, str]:
    return (lot.expiry_date, lot.lot_number)


@settings(max_examples=200)
@given(lot_specs, weights, st.integers(1, 100))
def test_lots_cover_each_share_and_keep_every_unit(
    specs: list[tuple[int, int]], w: dict[str, int], pack: int
) -> None:
    lots = make_lots(specs)
    shares = dict(allocate(sum(x.quantity for x in lots), pack, w).shares)
    assigned = assign_lots(shares, lots)
    assert set(assigned) == {*shares, RESERVE}
    for code, share in shares.items():
        assert sum(x.quantity for x in assigned[code]) == share
    per_lot: dict[str, int] = {}
    for part in (x for parts in assigned.values() for x in parts):
        assert part.quantity > 0
        per_lot[part.lot_number] = per_lot.get(part.lot_number, 0) + part.quantity
    assert per_lot == {x.lot_number: x.quantity for x in lots}


@settings(max_examples=200)
@given(lot_specs, weights, st.randoms(use_true_random=False))
def test_earliest_expiry_goes_first_to_the_largest_share(
    specs: list[tuple[int, int]], w: dict[str, int], shuffle: random.Random
) -> None:
    lots = make_lots(specs)
    shares = dict(allocate(sum(x.quantity for x in lots), 7, w).shares)
    assigned = assign_lots(shares, lots)
    order = sorted(shares, key=lambda c: (-shares[c], c))
    handed_out = [x for code in [*order, RESERVE] for x in assigned[code]]
    assert handed_out == sorted(handed_out, key=fefo_key)  # consecutive slices, FEFO
    shuffled = list(lots)
    shuffle.shuffle(shuffled)
    assert assign_lots(shares, tuple(shuffled)) == assigned


def test_the_largest_share_takes_the_earliest_expiry() -> None:
    early = Lot(lot_number="EARLY", expiry_date=date(2027, 1, 1), quantity=100)
    late = Lot(lot_number="LATE", expiry_date=date(2027, 6, 1), quantity=100)
    assigned = assign_lots({"79": 120, "01": 50}, (late, early))
    assert [(x.lot_number, x.quantity) for x in assigned["79"]] == [("EARLY", 100), ("LATE", 20)]
    assert [(x.lot_number, x.quantity) for x in assigned["01"]] == [("LATE", 50)]
    assert [(x.lot_number, x.quantity) for x in assigned[RESERVE]] == [("LATE", 30)]


def test_lots_expiring_the_same_day_go_by_lot_number() -> None:
    b = Lot(lot_number="B", expiry_date=date(2027, 1, 1), quantity=10)
    a = b.model_copy(update={"lot_number": "A"})
    assigned = assign_lots({"01": 10}, (b, a))
    assert [x.lot_number for x in assigned["01"]] == ["A"]
    assert [x.lot_number for x in assigned[RESERVE]] == ["B"]


@pytest.mark.parametrize("shares", [{"01": 21}, {"01": -1}, {RESERVE: 1}])
def test_impossible_lot_assignments_are_refused(shares: dict[str, int]) -> None:
    lots = make_lots([(10, 0), (10, 5)])
    with pytest.raises(ValueError):
        assign_lots(shares, lots)
