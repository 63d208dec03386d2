"""Intake rules: what may be announced, and what an arrival may record."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.domain import (
    CLOCK_SKEW,
    AnnounceShipment,
    RecordArrival,
    Shipment,
    ShipmentStatus,
    airports,
    decider,
)
from shared.contracts.base import DomainEvent
from shared.contracts.intake import ShipmentAnnounced, ShipmentArrivedV2, ShipmentClosed
from shared.contracts.values import Category, LineItem, Lot, Priority, ReceivedLot, Unit
from shared.decider import DomainError, InvalidInput, NotFound, StateConflict
from tests.unit.builders import CHANNEL, EXPIRED, NOW, SHIPMENT, line, lot, received


def announce(**changes: Any) -> AnnounceShipment:
    fields: dict[str, Any] = {
        "shipment_id": SHIPMENT,
        "donor": "COVAX",
        "channel": CHANNEL,
        "airport": "HAN",
        "flight": "VN0317",
        "airway_bill": "738-12345675",
        "expected_arrival": NOW,
        "consignee": "NIHE",
        "lines": (line(),),
        "now": NOW,
    }
    return AnnounceShipment(**(fields | changes))


def arrival(*entries: tuple[int, str, int], **changes: Any) -> RecordArrival:
    fields: dict[str, Any] = {
        "arrived_at": NOW,
        "received": received(*entries),
        "remarks": "",
        "now": NOW,
    }
    return RecordArrival(**(fields | changes))


def announced(*lines: LineItem) -> list[DomainEvent]:
    return list(decider.decide(announce(lines=lines or (line(),)), Shipment()))


def refusal(command: AnnounceShipment | RecordArrival, state: Shipment) -> DomainError:
    with pytest.raises(DomainError) as refused:
        decider.decide(command, state)
    assert refused.value.detail
    return refused.value


def masks(line_no: int = 2, quantity: int = 250) -> LineItem:
    return line(
        line_no, quantity, lots=(), category=Category.MEDICAL_SUPPLY, unit=Unit.PIECES, pack_size=50
    )


# --- reference data -------------------------------------------------------------------------


def test_the_airports_come_from_the_reference_table() -> None:
    table = airports()
    assert len(table) == 11
    assert table["HAN"].icao == "VVNB" and table["HAN"].province_code == "01"
    assert table["SGN"].name_en == "Tan Son Nhat International"
    assert table["SGN"].province_code == "79"
    assert all(len(a.province_code) == 2 for a in table.values())


# --- announcement ---------------------------------------------------------------------------


def test_announcing_records_the_consignment() -> None:
    [event] = announced()
    assert isinstance(event, ShipmentAnnounced)
    assert event.shipment_id == SHIPMENT and event.airport == "HAN"
    assert event.lines == (line(),)
    state = decider.fold([event])
    assert state.status is ShipmentStatus.ANNOUNCED and state.airport == "HAN"
    assert event.priority is Priority.ROUTINE  # unless the announcement says otherwise


def test_an_announcement_carries_its_priority() -> None:
    [event] = decider.decide(announce(priority=Priority.EMERGENCY), decider.fold([]))
    assert isinstance(event, ShipmentAnnounced) and event.priority is Priority.EMERGENCY


def negative_line() -> LineItem:
    return LineItem.model_construct(**(line(lots=()).model_dump() | {"quantity": -5}))


def negative_lot() -> Lot:
    return Lot.model_construct(**(lot("A2").model_dump() | {"quantity": -1}))


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"airport": "XXX"}, "airport", "unknown-airport"),
        ({"lines": ()}, "lines", "no-lines"),
        ({"lines": (line(1), masks(2), line(1))}, "lines/2/line_no", "duplicate-line"),
        ({"lines": (line(lots=(lot("A1", 999),)),)}, "lines/0/lots", "lots-do-not-add-up"),
        (
            {"lines": (line(lots=(lot("A1", 500, days=-1), lot("A2", 500))),)},
            "lines/0/lots/0/expiry_date",
            "expired-lot",
        ),
        (
            {"lines": (line(1), line(2, lots=(lot("A1", 500), lot("A2", 500, days=-30))))},
            "lines/1/lots/1/expiry_date",
            "expired-lot",
        ),
        ({"lines": (line(quantity=0, lots=()),)}, "lines/0/quantity", "no-quantity"),
        ({"lines": (negative_line(),)}, "lines/0/quantity", "no-quantity"),
        ({"lines": (line(lots=(lot("A1", 1000), lot("A2", 0))),)}, "lines/0/lots/1/quantity", None),
        (
            {"lines": (line(lots=(lot("A1", 1001), negative_lot())),)},
            "lines/0/lots/1/quantity",
            None,
        ),
        ({"lines": (line(lots=()),)}, "lines/0/lots", "vaccine-without-lots"),
        (
            {"lines": (line(lots=(lot("A1", 500), lot("A1", 500))),)},
            "lines/0/lots/1/lot_number",
            "duplicate-lot",
        ),
        ({"lines": (line(lots=(lot(" ", 1000),)),)}, "lines/0/lots/0/lot_number", None),
        ({"expected_arrival": NOW.replace(tzinfo=None)}, "expected_arrival", "no-time-zone"),
    ],
)
def test_an_invalid_announcement_is_refused(
    changes: dict[str, Any], field: str, code: str | None
) -> None:
    refused = refusal(announce(**changes), Shipment())
    assert isinstance(refused, InvalidInput)
    assert refused.field == field
    assert code is None or refused.code == code


def test_supplies_need_no_lots() -> None:
    [event] = announced(masks())
    assert isinstance(event, ShipmentAnnounced)


def test_expiry_is_judged_against_the_commands_clock() -> None:
    today = lot("A2", 500).model_copy(update={"expiry_date": NOW.date()})
    assert announced(line(lots=(lot("A1", 500), today)))  # usable through its expiry date
    old = lot("A2", 500).model_copy(update={"expiry_date": EXPIRED})
    assert refusal(announce(lines=(line(lots=(lot("A1", 500), old)),)), Shipment()).field == (
        "lines/0/lots/1/expiry_date"
    )
    then = NOW.replace(year=2019)
    years_ago = announce(lines=(line(lots=(lot("A1", 500), old)),), now=then, expected_arrival=then)
    assert decider.decide(years_ago, Shipment())


def test_the_same_shipment_cannot_be_announced_twice() -> None:
    refused = refusal(announce(), decider.fold(announced()))
    assert isinstance(refused, StateConflict)
    assert refused.code == "already-announced"


# --- arrival --------------------------------------------------------------------------------


def test_arrival_records_what_was_received_at_the_announced_airport() -> None:
    state = decider.fold(announced())
    [event, closed] = decider.decide(arrival((1, "A1", 500), (1, "A2", 480)), state)
    assert isinstance(event, ShipmentArrivedV2) and isinstance(closed, ShipmentClosed)
    assert event.shipment_id == SHIPMENT and event.airport == "HAN"
    counted = [(lot.line_no, lot.lot_number, lot.counted, lot.accepted) for lot in event.lots]
    assert counted == [(1, "A1", 500, 500), (1, "A2", 480, 480)]
    assert decider.fold([*announced(), event]).status is ShipmentStatus.PARTIALLY_ARRIVED
    assert decider.fold([*announced(), event, closed]).status is ShipmentStatus.ARRIVED
    assert [(line.line_no, line.quantity) for line in closed.accepted] == [(1, 980)]


def test_a_short_shipment_is_recorded() -> None:
    state = decider.fold(announced(line(1), masks(2)))
    [event, closed] = decider.decide(arrival((1, "A1", 499), (2, "", 200)), state)
    assert isinstance(event, ShipmentArrivedV2) and isinstance(closed, ShipmentClosed)
    short = {(d.line_no, d.lot_number, d.quantity) for d in closed.discrepancies}
    assert short == {(1, "A1", 1), (1, "A2", 500), (2, "", 50)}


def test_arrival_of_a_shipment_never_announced_is_not_found() -> None:
    refused = refusal(arrival((1, "A1", 500)), Shipment())
    assert isinstance(refused, NotFound)


def test_a_second_arrival_is_a_conflict() -> None:
    events = announced()
    events += decider.decide(arrival((1, "A1", 500)), decider.fold(events))
    refused = refusal(arrival((1, "A1", 500)), decider.fold(events))
    assert isinstance(refused, StateConflict) and refused.code == "already-arrived"


def negative_received() -> ReceivedLot:
    return ReceivedLot.model_construct(line_no=1, lot_number="A1", quantity=-1)


@pytest.mark.parametrize(
    ("command", "field", "code"),
    [
        (arrival((9, "A1", 5)), "received/0/line_no", "unknown-line"),
        (arrival((1, "A1", 5), (1, "ZZZ", 5)), "received/1/lot_number", "unknown-lot"),
        (arrival((2, "A1", 5)), "received/0/lot_number", "unknown-lot"),
        (arrival((1, "A1", 501)), "received/0/quantity", "over-received"),
        (arrival((2, "", 251)), "received/0/quantity", "over-received"),
        (arrival((1, "A1", 5), (1, "A1", 5)), "received/1/lot_number", "duplicate-lot"),
        (arrival(received=(negative_received(),)), "received/0/quantity", "negative"),
        (arrival(arrived_at=NOW + CLOCK_SKEW + timedelta(seconds=1)), "arrived_at", None),
        (arrival(arrived_at=NOW.replace(tzinfo=None)), "arrived_at", "no-time-zone"),
    ],
)
def test_an_invalid_arrival_is_refused(
    command: RecordArrival, field: str, code: str | None
) -> None:
    refused = refusal(command, decider.fold(announced(line(1), masks(2))))
    assert isinstance(refused, InvalidInput)
    assert refused.field == field
    assert code is None or refused.code == code


def test_a_slightly_fast_airport_clock_is_tolerated() -> None:
    command = arrival((1, "A1", 5), arrived_at=NOW + CLOCK_SKEW)
    assert decider.decide(command, decider.fold(announced()))


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_any_count_up_to_the_announced_one_is_accepted(first: int, second: int) -> None:
    state = decider.fold(announced())  # lots A1 and A2 of 500 each
    command = arrival((1, "A1", first), (1, "A2", second))
    if first <= 500 and second <= 500:
        assert len(decider.decide(command, state)) == 2  # part 1 and the closing
    else:
        assert refusal(command, state).code == "over-received"


def test_other_events_leave_the_shipment_unchanged() -> None:
    state = decider.fold(announced())
    assert decider.evolve(state, DomainEvent(shipment_id=SHIPMENT)) is state
