"""The allocation arithmetic: properties that must hold for every input."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.allocation.policy import allocate, assign_lots
from shared.contracts.values import Lot
from shared.reference_data import provinces

codes = st.text(alphabet="0123456789", min_size=2, max_size=2)
weights = st.dictionaries(codes, st.integers(1, 20_000_000), min_size=1, max_size=40)
quantities = st.integers(0, 10**9)
pack_sizes = st.integers(1, 10_000)


@given(quantities, pack_sizes, weights)
def test_shares_and_reserve_add_up_to_the_quantity(
    quantity: int, pack: int, w: dict[str, int]
) -> None:
    allocation = allocate(quantity, pack, w)
    assert sum(allocation.units(c) for c in w) + allocation.reserve == quantity
    assert 0 <= allocation.reserve < pack
    assert all(p >= 0 for p in allocation.packs.values())


@given(quantities, pack_sizes, weights)
def test_a_larger_weight_never_gets_fewer_packs(
    quantity: int, pack: int, w: dict[str, int]
) -> None:
    packs = allocate(quantity, pack, w).packs
    for a in w:
        for b in w:
            if w[a] > w[b]:
                assert packs[a] >= packs[b]


@given(quantities, pack_sizes, weights)
def test_each_share_is_within_one_pack_of_its_exact_quota(
    quantity: int, pack: int, w: dict[str, int]
) -> None:
    allocation = allocate(quantity, pack, w)
    whole = quantity // pack
    total = sum(w.values())
    for code, weight in w.items():
        exact = whole * weight / total
        assert exact - 1 < allocation.packs[code] < exact + 1


@given(quantities, pack_sizes, weights)
def test_the_order_of_recipients_does_not_matter(
    quantity: int, pack: int, w: dict[str, int]
) -> None:
    backwards = dict(reversed(list(w.items())))
    assert allocate(quantity, pack, w).packs == allocate(quantity, pack, backwards).packs


def test_ties_go_to_the_smaller_code() -> None:
    allocation = allocate(30, 10, {"02": 1, "01": 1})
    assert allocation.packs == {"01": 2, "02": 1}


def test_no_weight_keeps_everything_in_reserve() -> None:
    assert allocate(123, 10, {}).reserve == 123


def test_a_2021_round_adds_up_over_the_34_provinces() -> None:
    """Decision 3400/QD-BYT: 2,000,040 Moderna doses in 14-dose vials."""
    weights = {p.code: p.population_scale for p in provinces()}
    allocation = allocate(2_000_040, 14, weights)
    assert len(weights) == 34
    assert sum(allocation.units(c) for c in weights) + allocation.reserve == 2_000_040
    assert allocation.reserve == 2_000_040 % 14
    assert allocation.packs["79"] == max(allocation.packs.values())  # Ho Chi Minh City


lots_strategy = st.lists(
    st.tuples(st.integers(1, 50_000), st.integers(0, 400)), min_size=1, max_size=6
)


@settings(max_examples=200)
@given(lots_strategy, weights)
def test_lots_cover_each_share_and_keep_every_dose(
    raw: list[tuple[int, int]], w: dict[str, int]
) -> None:
    lots = tuple(
        Lot(lot_number=f"L{i}", expiry_date=date(2027, 1, 1) + timedelta(days=days), quantity=q)
        for i, (q, days) in enumerate(raw)
    )
    allocation = allocate(sum(lot.quantity for lot in lots), 1, w)
    shares = {c: allocation.units(c) for c in w}
    given_lots, reserve = assign_lots(shares, lots)
    for code, share in shares.items():
        assert sum(lot.quantity for lot in given_lots[code]) == share
    per_lot: dict[str, int] = {}
    for lot in [*(lot for ls in given_lots.values() for lot in ls), *reserve]:
        per_lot[lot.lot_number] = per_lot.get(lot.lot_number, 0) + lot.quantity
    assert per_lot == {lot.lot_number: lot.quantity for lot in lots if lot.quantity}


def test_the_largest_share_takes_the_earliest_expiry() -> None:
    early = Lot(lot_number="EARLY", expiry_date=date(2027, 1, 1), quantity=100)
    late = Lot(lot_number="LATE", expiry_date=date(2027, 6, 1), quantity=100)
    given_lots, reserve = assign_lots({"79": 120, "01": 50}, (late, early))
    assert [(lot.lot_number, lot.quantity) for lot in given_lots["79"]] == [
        ("EARLY", 100),
        ("LATE", 20),
    ]
    assert [(lot.lot_number, lot.quantity) for lot in given_lots["01"]] == [("LATE", 50)]
    assert [(lot.lot_number, lot.quantity) for lot in reserve] == [("LATE", 30)]
