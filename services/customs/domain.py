"""The clearance case of one consignment: opened on announcement, goods presented on arrival,
released on the fast track. Pure rules, no I/O.

Reactions to intake's events are idempotent (a second announcement or arrival adds nothing),
because at-least-once delivery may bring them twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from shared.contracts.base import DomainEvent
from shared.contracts.customs import (
    ClearanceCaseOpened,
    ClearedFastTrack,
    Examination,
    GoodsPresentedV2,
    Lane,
)
from shared.contracts.intake import ShipmentAnnounced
from shared.contracts.values import Channel, LineItem, ReceivedLot
from shared.decider import Decider, InvalidInput, NotFound, StateConflict

# Intake records a line announced without lots (masks, ventilators) as one lot with this number.
NO_LOT = ""


class CaseStatus(StrEnum):
    """A clearance case's status, as the read model, the API filter and the queue name it."""

    AWAITING_ARRIVAL = "awaiting_arrival"
    ARRIVED = "arrived"
    CLEARED = "cleared"


@dataclass(frozen=True)
class OpenCase:
    shipment_id: UUID
    airport: str
    donor: str
    channel: Channel
    airway_bill: str
    expected_arrival: datetime
    lines: tuple[LineItem, ...]

    @classmethod
    def from_announcement(cls, event: ShipmentAnnounced) -> OpenCase:
        return cls(
            event.shipment_id,
            event.airport,
            event.donor,
            event.channel,
            event.airway_bill,
            event.expected_arrival,
            event.lines,
        )


@dataclass(frozen=True)
class PresentGoods:
    arrived_at: datetime
    received: tuple[ReceivedLot, ...]


@dataclass(frozen=True)
class ClearFastTrack:
    declaration_number: str
    lane: Lane
    examination: Examination
    remarks: str
    now: datetime


Command = OpenCase | PresentGoods | ClearFastTrack


@dataclass(frozen=True)
class ClearanceCase:
    status: CaseStatus | None = None  # None: no case opened
    opened: ClearanceCaseOpened | None = None
    received: tuple[ReceivedLot, ...] = ()


def evolve(state: ClearanceCase, event: DomainEvent) -> ClearanceCase:
    match event:
        case ClearanceCaseOpened():
            return ClearanceCase(CaseStatus.AWAITING_ARRIVAL, event)
        case GoodsPresentedV2():
            return replace(state, status=CaseStatus.ARRIVED, received=event.received)
        case ClearedFastTrack():
            return replace(state, status=CaseStatus.CLEARED)
    return state


def decide(command: Command, state: ClearanceCase) -> list[DomainEvent]:
    match command:
        case OpenCase():
            return open_case(command, state)
        case PresentGoods():
            return present_goods(command, state)
        case ClearFastTrack():
            return clear_fast_track(command, state)


def open_case(command: OpenCase, state: ClearanceCase) -> list[DomainEvent]:
    if state.status is not None:
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
        )
    ]


def present_goods(command: PresentGoods, state: ClearanceCase) -> list[DomainEvent]:
    if state.opened is None:
        raise NotFound("no clearance case is open for this consignment", code="case-not-found")
    if state.status is not CaseStatus.AWAITING_ARRIVAL:
        return []  # already presented: the arrival was delivered again
    return [
        GoodsPresentedV2(
            shipment_id=state.opened.shipment_id,
            arrived_at=command.arrived_at,
            received=command.received,
        )
    ]


def clear_fast_track(command: ClearFastTrack, state: ClearanceCase) -> list[DomainEvent]:
    if state.opened is None:
        raise NotFound("no clearance case for this consignment", code="case-not-found")
    if state.status is CaseStatus.AWAITING_ARRIVAL:
        raise StateConflict("the goods have not arrived yet", code="not-arrived")
    if state.status is CaseStatus.CLEARED:
        raise StateConflict("this consignment is already cleared", code="already-cleared")
    if not command.declaration_number.strip():
        raise InvalidInput(
            "a declaration number is required",
            field="declaration_number",
            code="no-declaration",
        )
    lines = cleared_lines(state.opened.lines, state.received)
    if not lines:
        raise StateConflict(
            "nothing was received, so nothing can be cleared", code="nothing-received"
        )
    return [
        ClearedFastTrack(
            shipment_id=state.opened.shipment_id,
            airport=state.opened.airport,
            donor=state.opened.donor,
            declaration_number=command.declaration_number.strip(),
            lane=command.lane,
            examination=command.examination,
            remarks=command.remarks,
            cleared_at=command.now,
            lines=lines,
        )
    ]


def cleared_lines(
    announced: tuple[LineItem, ...], received: tuple[ReceivedLot, ...]
) -> tuple[LineItem, ...]:
    """The announced lines with the quantities actually received; empty lots and lines dropped,
    so that allocation hands out only what is physically here."""
    got = {(r.line_no, r.lot_number): r.quantity for r in received}
    lines = (_received_line(line, got) for line in announced)
    return tuple(line for line in lines if line.quantity > 0)


def _received_line(line: LineItem, got: dict[tuple[int, str], int]) -> LineItem:
    if not line.lots:
        return line.model_copy(update={"quantity": got.get((line.line_no, NO_LOT), 0)})
    lots = tuple(
        lot.model_copy(update={"quantity": got.get((line.line_no, lot.lot_number), 0)})
        for lot in line.lots
    )
    kept = tuple(lot for lot in lots if lot.quantity > 0)
    return line.model_copy(update={"quantity": sum(lot.quantity for lot in kept), "lots": kept})


decider: Decider[ClearanceCase, Command] = Decider(ClearanceCase(), evolve, decide)
