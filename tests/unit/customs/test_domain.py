"""Customs rules: idempotent reactions, and when a fast-track release is allowed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.customs.domain import (
    ClearanceCase,
    ClearFastTrack,
    OpenCase,
    PresentGoods,
    decider,
    lines_of,
    nearest_expiry,
)
from shared.contracts.base import DomainEvent
from shared.contracts.customs import (
    ClearanceCaseOpened,
    ClearedFastTrack,
    Examination,
    Lane,
    LotExpiry,
)
from shared.contracts.intake import ShipmentAnnounced
from shared.contracts.values import Category, LineItem, Unit
from shared.decider import DomainError, InvalidInput, NotFound, StateConflict
from tests.unit.builders import CHANNEL, NOW, SHIPMENT, line, lot, received

MASKS = line(2, 250, lots=(), category=Category.MEDICAL_SUPPLY, unit=Unit.PIECES, pack_size=50)
VACCINE = line(1, 1000, lots=(lot("A1", 500), lot("A2", 300, days=90), lot("A3", 200)))


def announcement(*lines: LineItem) -> ShipmentAnnounced:
    return ShipmentAnnounced(
        shipment_id=SHIPMENT,
        donor="COVAX",
        channel=CHANNEL,
        airport="HAN",
        flight="VN0317",
        airway_bill="738-1",
        expected_arrival=NOW,
        consignee="NIHE",
        lines=lines or (VACCINE, MASKS),
    )


OPEN = OpenCase.from_announcement(announcement())


def present(*entries: tuple[int, str, int]) -> PresentGoods:
    return PresentGoods(arrived_at=NOW, received=received(*entries))


def clear(**changes: Any) -> ClearFastTrack:
    fields: dict[str, Any] = {
        "declaration_number": "104000000001",
        "lane": Lane.YELLOW,
        "examination": Examination.DOCUMENTARY,
        "remarks": "inspected at the cold store",
        "now": NOW,
    }
    return ClearFastTrack(**(fields | changes))


def run(*commands: Any) -> tuple[ClearanceCase, list[DomainEvent]]:
    events: list[DomainEvent] = []
    for command in commands:
        events += decider.decide(command, decider.fold(events))
    return decider.fold(events), events


def refusal(*commands: Any) -> DomainError:
    with pytest.raises(DomainError) as refused:
        run(*commands)
    assert refused.value.detail
    return refused.value


def cleared_by(*commands: Any) -> ClearedFastTrack:
    _, events = run(*commands)
    assert isinstance(events[-1], ClearedFastTrack)
    return events[-1]


# --- reactions to intake's events -----------------------------------------------------------


def test_the_case_opens_with_the_announced_consignment() -> None:
    state, [opened] = run(OPEN)
    assert isinstance(opened, ClearanceCaseOpened)
    assert opened.shipment_id == SHIPMENT and opened.airport == "HAN"
    assert opened.airway_bill == "738-1" and opened.lines == (VACCINE, MASKS)
    assert state.status == "awaiting_arrival"


def test_announcement_and_arrival_delivered_twice_change_the_case_once() -> None:
    presented = present((1, "A1", 500))
    state, events = run(OPEN, OPEN, presented, presented, OPEN)
    assert [type(e).__name__ for e in events] == ["ClearanceCaseOpened", "GoodsPresentedV2"]
    assert state.status == "arrived"


def test_an_arrival_delivered_again_after_clearance_adds_nothing() -> None:
    presented = present((1, "A1", 500))
    state, events = run(OPEN, presented, clear(), presented)
    assert isinstance(events[-1], ClearedFastTrack)
    assert state.status == "cleared"


def test_goods_presented_before_the_case_is_open_are_not_found() -> None:
    refused = refusal(present((1, "A1", 500)))
    assert isinstance(refused, NotFound)


# --- fast-track release ---------------------------------------------------------------------


def test_fast_track_releases_what_was_received() -> None:
    cleared = cleared_by(OPEN, present((1, "A1", 500), (1, "A2", 120), (2, "", 200)), clear())
    assert cleared.airport == "HAN" and cleared.donor == "COVAX"
    assert cleared.lane is Lane.YELLOW and cleared.examination is Examination.DOCUMENTARY
    assert cleared.cleared_at == NOW and cleared.remarks == "inspected at the cold store"
    vaccine, masks = cleared.lines
    assert vaccine.quantity == 620
    assert [(x.lot_number, x.quantity, x.expiry_date) for x in vaccine.lots] == [
        ("A1", 500, VACCINE.lots[0].expiry_date),
        ("A2", 120, VACCINE.lots[1].expiry_date),
    ]  # A3, of which nothing came, is dropped
    assert (masks.quantity, masks.lots, masks.pack_size) == (200, (), 50)


def test_a_line_of_which_nothing_arrived_is_dropped() -> None:
    cleared = cleared_by(OPEN, present((1, "A1", 0), (2, "", 250)), clear())
    assert [x.line_no for x in cleared.lines] == [2]


def test_the_declaration_number_is_kept_without_surrounding_blanks() -> None:
    cleared = cleared_by(OPEN, present((1, "A1", 5)), clear(declaration_number=" 104000000001 "))
    assert cleared.declaration_number == "104000000001"


def test_clearing_without_a_case_is_not_found() -> None:
    refused = refusal(clear())
    assert isinstance(refused, NotFound)


def test_clearing_before_the_goods_arrive_is_a_conflict() -> None:
    refused = refusal(OPEN, clear())
    assert isinstance(refused, StateConflict)
    assert refused.code == "not-arrived" and "not arrived" in refused.detail


def test_clearing_twice_is_a_conflict() -> None:
    refused = refusal(OPEN, present((1, "A1", 5)), clear(), clear())
    assert isinstance(refused, StateConflict) and refused.code == "already-cleared"


def test_a_declaration_number_is_required() -> None:
    refused = refusal(OPEN, present((1, "A1", 5)), clear(declaration_number="  "))
    assert isinstance(refused, InvalidInput)
    assert refused.field == "declaration_number"


def test_nothing_received_cannot_be_cleared() -> None:
    refused = refusal(OPEN, present((1, "A1", 0)), clear())
    assert isinstance(refused, StateConflict) and refused.code == "nothing-received"
    assert isinstance(refusal(OPEN, present(), clear()), StateConflict)


received_counts = st.tuples(st.integers(0, 500), st.integers(0, 300), st.integers(0, 200))


@given(received_counts, st.integers(0, 250))
def test_the_release_holds_exactly_what_was_received(
    lots: tuple[int, int, int], masks: int
) -> None:
    entries = [(1, f"A{i + 1}", q) for i, q in enumerate(lots)] + [(2, "", masks)]
    _, events = run(OPEN, present(*entries))
    if sum(lots) + masks == 0:
        assert isinstance(refusal(OPEN, present(*entries), clear()), StateConflict)
        return
    [cleared] = decider.decide(clear(), decider.fold(events))
    assert isinstance(cleared, ClearedFastTrack)
    assert sum(x.quantity for x in cleared.lines) == sum(lots) + masks
    for cleared_line in cleared.lines:
        assert cleared_line.quantity > 0
        assert all(x.quantity > 0 for x in cleared_line.lots)
        if cleared_line.lots:
            assert sum(x.quantity for x in cleared_line.lots) == cleared_line.quantity


# --- the queue's nearest expiry -------------------------------------------------------------

# line 1 lists A1-A3; X9 and "" (no lot) are not on its manifest; line 2 has no lots
presented_lots = st.lists(
    st.tuples(
        st.sampled_from([(1, "A1"), (1, "A2"), (1, "A3"), (1, "X9"), (1, ""), (2, "")]),
        st.integers(0, 50),
    ),
    max_size=6,
)


@given(st.lists(presented_lots, min_size=1, max_size=3), st.integers(0, 400), st.booleans())
def test_the_nearest_expiry_is_the_earliest_of_the_lots_still_to_clear(
    parts: list[list[tuple[tuple[int, str], int]]], days: int, clear_them: bool
) -> None:
    commands: list[Any] = [OPEN]
    for part_no, entries in enumerate(parts, start=1):
        read = (LotExpiry(line_no=1, lot_number="X9", expiry_date=NOW.date() + timedelta(days)),)
        arrived = received(*((n, lot_no, q) for (n, lot_no), q in entries))
        commands.append(PresentGoods(NOW, arrived, part_no, read if part_no == 2 else ()))
    state, _ = run(*commands)
    if clear_them and state.presented_total:
        state, _ = run(*commands, clear())

    remaining = dict.fromkeys((k for k, b in state.ledger.items() if b.remaining > 0), 1)
    shown = [lot.expiry_date for line in lines_of(state, remaining) for lot in line.lots]
    assert nearest_expiry(state) == min(shown, default=None)
