"""Rules for intake's events. Each is idempotent: at-least-once delivery may bring an event
twice, and a second delivery adds nothing."""

from __future__ import annotations

from datetime import datetime

from services.customs.domain.case import ClearanceCase
from services.customs.domain.commands import (
    AmendCase,
    CloseCase,
    CompleteArrivals,
    OpenCase,
    PresentGoods,
)
from shared.contracts.base import DomainEvent
from shared.contracts.customs import (
    ArrivalsCompleted,
    CaseClosure,
    ClearanceCaseAmended,
    ClearanceCaseClosed,
    ClearanceCaseOpened,
    GoodsPresentedV2,
)
from shared.decider import NotFound


def open_case(command: OpenCase, state: ClearanceCase) -> list[DomainEvent]:
    if state.opened is not None:
        return []  # already open: the announcement was delivered again
    return [
        ClearanceCaseOpened(
            shipment_id=command.shipment_id,
            airport=command.airport,
            donor=command.donor,
            channel=command.channel,
            airway_bill=command.airway_bill,
            expected_arrival=command.expected_arrival,
            lines=command.lines,
            priority=command.priority,
        )
    ]


def opened(state: ClearanceCase) -> ClearanceCaseOpened:
    if state.opened is None:
        raise NotFound("no clearance case is open for this consignment", code="case-not-found")
    return state.opened


def amend_case(command: AmendCase, state: ClearanceCase) -> list[DomainEvent]:
    case = opened(state)
    if state.parts or state.closure is not None:
        return []  # too late to change what is expected: goods are here or the case is shut
    unchanged = (
        command.lines == state.lines
        and command.expected_arrival == case.expected_arrival
        and command.priority in (None, state.priority)  # None: the priority stays
    )
    if unchanged:
        return []  # delivered again
    return [
        ClearanceCaseAmended(
            shipment_id=case.shipment_id,
            donor=command.donor,
            channel=command.channel,
            airway_bill=command.airway_bill,
            expected_arrival=command.expected_arrival,
            lines=command.lines,
            reason=command.reason,
            priority=command.priority,
        )
    ]


def present_goods(command: PresentGoods, state: ClearanceCase) -> list[DomainEvent]:
    case = opened(state)
    if command.part_no in state.parts or state.closure is not None:
        return []  # this part was delivered again, or the case is shut
    announced = {line.line_no for line in state.lines}
    return [
        GoodsPresentedV2(
            shipment_id=case.shipment_id,
            part_no=command.part_no,
            arrived_at=command.arrived_at,
            received=tuple(r for r in command.received if r.line_no in announced),
            expiries=tuple(e for e in command.expiries if e.line_no in announced),
        )
    ]


def complete_arrivals(command: CompleteArrivals, state: ClearanceCase) -> list[DomainEvent]:
    case = opened(state)
    if state.arrivals_completed or state.closure is not None:
        return []
    events: list[DomainEvent] = [
        ArrivalsCompleted(shipment_id=case.shipment_id, completed_at=command.now)
    ]
    if command.nothing_to_clear and state.remaining_total == 0 and not state.released_total:
        closure = CaseClosure.NOTHING_TO_CLEAR
    elif state.presented_total > 0 and state.remaining_total == 0:
        closure = CaseClosure.COMPLETED
    else:
        return events
    return [*events, closed(state, closure, command.now)]


def close_case(command: CloseCase, state: ClearanceCase) -> list[DomainEvent]:
    opened(state)
    if state.closure is not None:
        return []
    return [closed(state, command.closure, command.now)]


def closed(state: ClearanceCase, closure: CaseClosure, now: datetime) -> ClearanceCaseClosed:
    case = opened(state)
    return ClearanceCaseClosed(shipment_id=case.shipment_id, closure=closure, closed_at=now)
