"""Allocation rules: one round per consignment, notices per province, acknowledgements."""

from __future__ import annotations

import pytest

from services.allocation.domain import AcknowledgeNotice, DecideRound, decider
from shared.contracts.allocation import AllocatedToProvince, AllocationRoundDecided
from shared.contracts.base import DomainEvent
from shared.decider import Forbidden, NotFound
from shared.reference_data import provinces
from tests.unit.builders import NOW, cleared, line, lot


def decide_round(quantity: int = 811_205) -> list[DomainEvent]:
    lots = (lot("A1", 500_000), lot("A2", quantity - 500_000, days=300))
    command = DecideRound(
        cleared=cleared((line(quantity=quantity, lots=lots),)), provinces=provinces(), now=NOW
    )
    return list(decider.decide(command, decider.fold([])))


def test_a_round_gives_every_province_whole_packs_and_keeps_the_rest_in_reserve() -> None:
    decided, *notices = decide_round()
    assert isinstance(decided, AllocationRoundDecided)
    assert all(isinstance(n, AllocatedToProvince) for n in notices)
    allocated = [n for n in notices if isinstance(n, AllocatedToProvince)]
    assert len(allocated) == 34
    assert sum(n.quantity for n in allocated) + decided.lines[0].reserve_quantity == 811_205
    assert decided.lines[0].reserve_quantity == 5
    assert all(n.quantity == n.packs * 10 for n in allocated)
    assert all(sum(lot.quantity for lot in n.lots) == n.quantity for n in allocated)
    assert len({n.notice_number for n in allocated}) == 34


def test_deciding_again_adds_nothing() -> None:
    events = decide_round()
    again = DecideRound(cleared=cleared(), provinces=provinces(), now=NOW)
    assert decider.decide(again, decider.fold(events)) == []


def test_acknowledging_a_notice() -> None:
    events = decide_round()
    notice = next(
        e for e in events if isinstance(e, AllocatedToProvince) and e.province_code == "01"
    )
    state = decider.fold(events)
    ack = AcknowledgeNotice(notice_number=notice.notice_number, province_code="01", now=NOW)
    [acknowledged] = decider.decide(ack, state)
    assert decider.decide(ack, decider.fold([*events, acknowledged])) == []  # a retry
    with pytest.raises(Forbidden):
        decider.decide(AcknowledgeNotice(notice.notice_number, "79", NOW), state)
    with pytest.raises(NotFound):
        decider.decide(AcknowledgeNotice("R-XXXX-01-1", "01", NOW), state)
