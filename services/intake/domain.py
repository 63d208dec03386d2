"""The consignment as intake sees it: announced, then arrived. Pure rules, no I/O."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from shared.contracts.base import DomainEvent
from shared.contracts.intake import ShipmentAnnounced, ShipmentArrived
from shared.contracts.values import Category, Channel, LineItem, ReceivedLot
from shared.decider import Conflict, Decider, InvalidCommand, NotFound
from shared.reference_data import airports


class Status(StrEnum):
    NONE = "none"
    ANNOUNCED = "announced"
    ARRIVED = "arrived"


@dataclass(frozen=True)
class AnnounceShipment:
    shipment_id: UUID
    donor: str
    channel: Channel
    airport: str
    flight: str
    airway_bill: str
    expected_arrival: datetime
    consignee: str
    lines: tuple[LineItem, ...]
    now: datetime


@dataclass(frozen=True)
class RecordArrival:
    arrived_at: datetime
    received: tuple[ReceivedLot, ...]
    remarks: str
    now: datetime


Command = AnnounceShipment | RecordArrival


@dataclass(frozen=True)
class Shipment:
    shipment_id: UUID | None = None
    status: Status = Status.NONE
    airport: str = ""
    lines: tuple[LineItem, ...] = field(default=())


def evolve(state: Shipment, event: DomainEvent) -> Shipment:
    match event:
        case ShipmentAnnounced():
            return Shipment(event.shipment_id, Status.ANNOUNCED, event.airport, event.lines)
        case ShipmentArrived():
            return replace(state, status=Status.ARRIVED)
    return state


def decide(command: Command, state: Shipment) -> list[DomainEvent]:
    match command:
        case AnnounceShipment():
            return announce(command, state)
        case RecordArrival():
            return record_arrival(command, state)


def announce(command: AnnounceShipment, state: Shipment) -> list[DomainEvent]:
    if state.status is not Status.NONE:
        raise Conflict(
            f"shipment {command.shipment_id} (airway bill {command.airway_bill}) is already "
            "announced",
            field="airway_bill",
            code="already-announced",
        )
    if command.airport not in airports():
        raise InvalidCommand(
            f"unknown airport {command.airport!r}", field="airport", code="unknown-airport"
        )
    check_lines(command.lines, command.now)
    return [
        ShipmentAnnounced(
            shipment_id=command.shipment_id,
            donor=command.donor,
            channel=command.channel,
            airport=command.airport,
            flight=command.flight,
            airway_bill=command.airway_bill,
            expected_arrival=command.expected_arrival,
            consignee=command.consignee,
            lines=command.lines,
        )
    ]


def check_lines(lines: tuple[LineItem, ...], now: datetime) -> None:
    if not lines:
        raise InvalidCommand("a consignment has at least one line", field="lines")
    numbers = Counter(line.line_no for line in lines)
    if twice := [n for n, count in numbers.items() if count > 1]:
        raise InvalidCommand(f"line numbers appear twice: {twice}", field="lines")
    for index, line in enumerate(lines):
        check_line(line, f"lines/{index}", now)


def check_line(line: LineItem, where: str, now: datetime) -> None:
    if line.quantity < 1:
        raise InvalidCommand("a line needs a quantity of at least 1", field=f"{where}/quantity")
    if line.category is Category.VACCINE and not line.lots:
        raise InvalidCommand("vaccine lines must list their lots", field=f"{where}/lots")
    lot_numbers = Counter(lot.lot_number for lot in line.lots)
    if twice := [n for n, count in lot_numbers.items() if count > 1]:
        raise InvalidCommand(f"lot numbers appear twice: {twice}", field=f"{where}/lots")
    for index, lot in enumerate(line.lots):
        if lot.quantity < 1:
            raise InvalidCommand(
                "a lot needs a quantity of at least 1", field=f"{where}/lots/{index}/quantity"
            )
        if lot.expiry_date < now.date():
            raise InvalidCommand(
                f"lot {lot.lot_number} expired on {lot.expiry_date}",
                field=f"{where}/lots/{index}/expiry_date",
                code="expired-lot",
            )
    if line.lots and sum(lot.quantity for lot in line.lots) != line.quantity:
        total = sum(lot.quantity for lot in line.lots)
        raise InvalidCommand(
            f"the lots add up to {total}, the line says {line.quantity}",
            field=f"{where}/lots",
            code="lots-do-not-add-up",
        )


def record_arrival(command: RecordArrival, state: Shipment) -> list[DomainEvent]:
    if state.shipment_id is None:
        raise NotFound("no such shipment has been announced", code="shipment-not-found")
    if state.status is Status.ARRIVED:
        raise Conflict("the arrival of this shipment is already recorded", code="already-arrived")
    if command.arrived_at > command.now:
        raise InvalidCommand("the arrival time is in the future", field="arrived_at")
    check_received(command.received, state.lines)
    return [
        ShipmentArrived(
            shipment_id=state.shipment_id,
            airport=state.airport,
            arrived_at=command.arrived_at,
            received=command.received,
            remarks=command.remarks,
        )
    ]


def check_received(received: tuple[ReceivedLot, ...], lines: tuple[LineItem, ...]) -> None:
    announced = {
        (line.line_no, lot.lot_number): lot.quantity for line in lines for lot in line.lots
    }
    # A line announced without lots (masks, ventilators) is received as one lot named "".
    announced |= {(line.line_no, ""): line.quantity for line in lines if not line.lots}
    seen: set[tuple[int, str]] = set()
    for index, lot in enumerate(received):
        key = (lot.line_no, lot.lot_number)
        where = f"received/{index}"
        if key not in announced:
            raise InvalidCommand(
                f"line {lot.line_no} has no lot {lot.lot_number}", field=where, code="unknown-lot"
            )
        if key in seen:
            raise InvalidCommand(f"lot {lot.lot_number} is listed twice", field=where)
        seen.add(key)
        if lot.quantity > announced[key]:
            raise InvalidCommand(
                f"received {lot.quantity} of lot {lot.lot_number}, more than the "
                f"{announced[key]} announced",
                field=f"{where}/quantity",
                code="over-received",
            )


decider: Decider[Shipment, Command] = Decider(Shipment(), evolve, decide)
