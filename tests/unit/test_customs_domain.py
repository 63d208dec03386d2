"""Customs rules: idempotent reactions, and when a fast-track release is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from services.customs.domain import (
    ClearanceCase,
    ClearFastTrack,
    OpenCase,
    PresentGoods,
    case_status,
    decider,
)
from shared.contracts.base import DomainEvent
from shared.contracts.customs import ClearedFastTrack, Examination, Lane
from shared.contracts.intake import ShipmentAnnounced
from shared.decider import Conflict, InvalidCommand, NotFound
from tests.unit.builders import CHANNEL, NOW, SHIPMENT, line, received

ANNOUNCED = ShipmentAnnounced(
    shipment_id=SHIPMENT,
    donor="COVAX",
    channel=CHANNEL,
    airport="HAN",
    flight="VN0317",
    airway_bill="738-1",
    expected_arrival=NOW,
    consignee="NIHE",
    lines=(line(),),
)


def clear(**changes: Any) -> ClearFastTrack:
    fields: dict[str, Any] = {
        "declaration_number": "104000000001",
        "lane": Lane.GREEN,
        "examination": Examination.NONE,
        "remarks": "",
        "now": NOW,
    }
    return ClearFastTrack(**(fields | changes))


def run(*commands: Any) -> tuple[ClearanceCase, list[DomainEvent]]:
    events: list[DomainEvent] = []
    for command in commands:
        events += decider.decide(command, decider.fold(events))
    return decider.fold(events), events


def test_announcement_and_arrival_open_and_update_the_case_once() -> None:
    opened = OpenCase.from_announcement(ANNOUNCED)
    presented = PresentGoods(arrived_at=NOW, received=received((1, "A1", 500), (1, "A2", 500)))
    state, events = run(opened, opened, presented, presented)
    assert [type(e).__name__ for e in events] == ["ClearanceCaseOpened", "GoodsPresented"]
    assert case_status(state) == "arrived"


def test_fast_track_clears_what_was_received() -> None:
    presented = PresentGoods(arrived_at=NOW, received=received((1, "A1", 500), (1, "A2", 120)))
    state, events = run(OpenCase.from_announcement(ANNOUNCED), presented, clear())
    cleared = events[-1]
    assert isinstance(cleared, ClearedFastTrack)
    assert cleared.lines[0].quantity == 620
    assert [(lot.lot_number, lot.quantity) for lot in cleared.lines[0].lots] == [
        ("A1", 500),
        ("A2", 120),
    ]
    assert case_status(state) == "cleared"


def test_fast_track_refusals() -> None:
    with pytest.raises(NotFound):
        run(clear())
    with pytest.raises(Conflict) as early:
        run(OpenCase.from_announcement(ANNOUNCED), clear())
    assert early.value.code == "not-arrived"
    presented = PresentGoods(arrived_at=NOW, received=received((1, "A1", 500)))
    with pytest.raises(Conflict) as twice:
        run(OpenCase.from_announcement(ANNOUNCED), presented, clear(), clear())
    assert twice.value.code == "already-cleared"
    with pytest.raises(InvalidCommand):
        run(OpenCase.from_announcement(ANNOUNCED), presented, clear(declaration_number="  "))
    nothing = PresentGoods(arrived_at=NOW, received=received((1, "A1", 0)))
    with pytest.raises(Conflict):
        run(OpenCase.from_announcement(ANNOUNCED), nothing, clear())


def test_goods_presented_before_the_case_is_open_is_an_error() -> None:
    with pytest.raises(NotFound):
        run(PresentGoods(arrived_at=NOW, received=()))
