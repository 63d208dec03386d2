"""Intake rules: what may be announced, and what an arrival may record."""

from __future__ import annotations

from typing import Any

import pytest

from services.intake.domain import AnnounceShipment, RecordArrival, Shipment, Status, decider
from shared.contracts.base import DomainEvent
from shared.contracts.intake import ShipmentAnnounced, ShipmentArrived
from shared.contracts.values import Category, Unit
from shared.decider import Conflict, InvalidCommand, NotFound
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


def arrival(*entries: tuple[int, str, int]) -> RecordArrival:
    return RecordArrival(arrived_at=NOW, received=received(*entries), remarks="", now=NOW)


def announced() -> list[DomainEvent]:
    return list(decider.decide(announce(), Shipment()))


def state_of(events: list[DomainEvent]) -> Shipment:
    return decider.fold(events)


def test_announcing_records_the_consignment() -> None:
    [event] = announced()
    assert isinstance(event, ShipmentAnnounced)
    assert event.airport == "HAN" and event.lines[0].quantity == 1000
    assert state_of([event]).status is Status.ANNOUNCED


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"airport": "XXX"}, "airport"),
        ({"lines": ()}, "lines"),
        ({"lines": (line(1), line(1))}, "lines"),
        ({"lines": (line(lots=(lot("A1", 999),)),)}, "lines/0/lots"),
        (
            {"lines": (line(lots=(lot("A1", 500, days=-1), lot("A2", 500))),)},
            "lines/0/lots/0/expiry_date",
        ),
        ({"lines": (line(quantity=0, lots=()),)}, "lines/0/quantity"),
        ({"lines": (line(lots=()),)}, "lines/0/lots"),
        ({"lines": (line(lots=(lot("A1", 500), lot("A1", 500))),)}, "lines/0/lots"),
    ],
)
def test_an_invalid_announcement_is_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        decider.decide(announce(**changes), Shipment())
    assert refused.value.field == field
    assert refused.value.detail


def test_supplies_need_no_lots() -> None:
    masks = line(category=Category.MEDICAL_SUPPLY, unit=Unit.PIECES, lots=(), quantity=250)
    [event] = decider.decide(announce(lines=(masks,)), Shipment())
    assert isinstance(event, ShipmentAnnounced)


def test_expiry_is_judged_against_the_commands_clock() -> None:
    old = line(lots=(lot("A1", 500), lot("A2", 500).model_copy(update={"expiry_date": EXPIRED})))
    with pytest.raises(InvalidCommand):
        decider.decide(announce(lines=(old,)), Shipment())


def test_the_same_shipment_cannot_be_announced_twice() -> None:
    with pytest.raises(Conflict):
        decider.decide(announce(), state_of(announced()))


def test_arrival_records_what_was_received() -> None:
    state = state_of(announced())
    [event] = decider.decide(arrival((1, "A1", 500), (1, "A2", 480)), state)
    assert isinstance(event, ShipmentArrived)
    assert event.shipment_id == SHIPMENT and event.airport == "HAN"
    assert state_of([*announced(), event]).status is Status.ARRIVED


def test_arrival_rules() -> None:
    state = state_of(announced())
    with pytest.raises(NotFound):
        decider.decide(arrival((1, "A1", 500)), Shipment())
    with pytest.raises(InvalidCommand) as unknown:
        decider.decide(arrival((1, "ZZZ", 5)), state)
    assert unknown.value.code == "unknown-lot"
    with pytest.raises(InvalidCommand) as over:
        decider.decide(arrival((1, "A1", 501)), state)
    assert over.value.field == "received/0/quantity"
    with pytest.raises(InvalidCommand):
        decider.decide(arrival((1, "A1", 5), (1, "A1", 5)), state)
    arrived = state_of([*announced(), *decider.decide(arrival((1, "A1", 500)), state)])
    with pytest.raises(Conflict):
        decider.decide(arrival((1, "A1", 500)), arrived)


def test_arrival_in_the_future_is_refused() -> None:
    later = RecordArrival(
        arrived_at=NOW.replace(year=2022), received=received((1, "A1", 1)), remarks="", now=NOW
    )
    with pytest.raises(InvalidCommand):
        decider.decide(later, state_of(announced()))
