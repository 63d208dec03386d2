"""The consignment as intake sees it: announced, then arrived. Pure rules, no I/O.

Commands carry ``now`` so that every rule is judged against the caller's clock, never ours.
The airports are the project's reference data (``shared.reference_data``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from shared.contracts.base import DomainEvent
from shared.contracts.intake import ShipmentAnnounced, ShipmentArrivedV2
from shared.contracts.limits import MAX_LOTS
from shared.contracts.rules import check_lots_add_up
from shared.contracts.values import Category, Channel, CountedLot, LineItem, Lot, ReceivedLot
from shared.decider import Decider, InvalidInput, NotFound, StateConflict
from shared.reference_data import airports

# Airport clocks drift; an arrival stamped a few minutes "ahead" of ours is not a future arrival.
CLOCK_SKEW = timedelta(minutes=5)
# The plausible window of dates: anything outside is a typing error (9999-12-31), not a plan.
ARRIVAL_WINDOW = timedelta(days=365)
SHELF_LIFE_WINDOW = timedelta(days=3653)  # ten years
# A line announced without lots (masks, ventilators) is received as one lot with this number.
NO_LOT = ""


class ShipmentStatus(StrEnum):
    """A consignment's status, as the read model, the API filter and the pages name it."""

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
    status: ShipmentStatus | None = None  # None: not announced
    airport: str = ""
    lines: tuple[LineItem, ...] = ()


def evolve(state: Shipment, event: DomainEvent) -> Shipment:
    match event:
        case ShipmentAnnounced():
            return Shipment(event.shipment_id, ShipmentStatus.ANNOUNCED, event.airport, event.lines)
        case ShipmentArrivedV2():
            return replace(state, status=ShipmentStatus.ARRIVED)
    return state


def decide(command: Command, state: Shipment) -> list[DomainEvent]:
    match command:
        case AnnounceShipment():
            return announce(command, state)
        case RecordArrival():
            return record_arrival(command, state)


# --- announcement ---------------------------------------------------------------------------


def announce(command: AnnounceShipment, state: Shipment) -> list[DomainEvent]:
    if state.status is not None:
        raise StateConflict(
            f"shipment {command.shipment_id} (airway bill {command.airway_bill}) is already "
            "announced",
            field="airway_bill",
            code="already-announced",
        )
    if command.airport not in airports():
        raise InvalidInput(
            f"unknown airport {command.airport!r}; known: {', '.join(sorted(airports()))}",
            field="airport",
            code="unknown-airport",
        )
    check_zoned(command.expected_arrival, "expected_arrival")
    check_within(command.expected_arrival, command.now, ARRIVAL_WINDOW, "expected_arrival")
    check_lines(command.lines, command.now.date())
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


def check_zoned(moment: datetime, field: str) -> None:
    # A time without a zone is ambiguous between the airport's clock and UTC.
    if moment.utcoffset() is None:
        raise InvalidInput("the time must carry a time zone", field=field, code="no-time-zone")


def check_within(moment: datetime, now: datetime, window: timedelta, field: str) -> None:
    if abs(moment - now) > window:
        raise InvalidInput(
            f"{moment.isoformat()} is more than {window.days} days from now",
            field=field,
            code="implausible-date",
        )


def check_lines(lines: tuple[LineItem, ...], today: date) -> None:
    if not lines:
        raise InvalidInput("a consignment has at least one line", field="lines", code="no-lines")
    lots = sum(len(line.lots) for line in lines)
    if lots > MAX_LOTS:
        raise InvalidInput(
            f"a consignment lists at most {MAX_LOTS} lots, this one {lots}",
            field="lines",
            code="too-many-lots",
        )
    first_seen: dict[int, int] = {}
    for index, line in enumerate(lines):
        if line.line_no in first_seen:
            raise InvalidInput(
                f"line number {line.line_no} is already used by lines/{first_seen[line.line_no]}",
                field=f"lines/{index}/line_no",
                code="duplicate-line",
            )
        first_seen[line.line_no] = index
        check_line(line, f"lines/{index}", today)


def check_line(line: LineItem, where: str, today: date) -> None:
    if line.quantity < 1:
        raise InvalidInput(
            f"line {line.line_no} needs a quantity of at least 1, not {line.quantity}",
            field=f"{where}/quantity",
            code="no-quantity",
        )
    if line.pack_size < 1:
        raise InvalidInput("the pack size is at least 1 unit", field=f"{where}/pack_size")
    if line.category is Category.VACCINE and not line.lots:
        # Without lot numbers a vaccine cannot be released, traced or recalled.
        raise InvalidInput(
            f"vaccine line {line.line_no} must list its lots",
            field=f"{where}/lots",
            code="vaccine-without-lots",
        )
    check_lots(line, where, today)


def check_lots(line: LineItem, where: str, today: date) -> None:
    seen: set[str] = set()
    for index, lot in enumerate(line.lots):
        check_lot(lot, f"{where}/lots/{index}", today, seen)
        seen.add(lot.lot_number)
    check_lots_add_up(line, where)


def check_lot(lot: Lot, where: str, today: date, seen: set[str]) -> None:
    if not lot.lot_number.strip():
        raise InvalidInput("a lot needs a lot number", field=f"{where}/lot_number")
    if lot.lot_number in seen:
        raise InvalidInput(
            f"lot {lot.lot_number} is listed twice in the line",
            field=f"{where}/lot_number",
            code="duplicate-lot",
        )
    if lot.quantity < 1:
        raise InvalidInput(
            f"lot {lot.lot_number} needs a quantity of at least 1, not {lot.quantity}",
            field=f"{where}/quantity",
            code="no-quantity",
        )
    if lot.expiry_date < today:
        raise InvalidInput(
            f"lot {lot.lot_number} expired on {lot.expiry_date}",
            field=f"{where}/expiry_date",
            code="expired-lot",
        )
    if lot.expiry_date - today > SHELF_LIFE_WINDOW:
        raise InvalidInput(
            f"lot {lot.lot_number} expires on {lot.expiry_date}, more than ten years from now",
            field=f"{where}/expiry_date",
            code="implausible-date",
        )


# --- arrival --------------------------------------------------------------------------------


def record_arrival(command: RecordArrival, state: Shipment) -> list[DomainEvent]:
    if state.shipment_id is None:
        raise NotFound("no such shipment has been announced", code="shipment-not-found")
    if state.status is ShipmentStatus.ARRIVED:
        raise StateConflict(
            "the arrival of this shipment is already recorded", code="already-arrived"
        )
    check_zoned(command.arrived_at, "arrived_at")
    if command.arrived_at > command.now + CLOCK_SKEW:
        raise InvalidInput(
            f"the arrival time {command.arrived_at.isoformat()} is in the future",
            field="arrived_at",
            code="arrival-in-future",
        )
    check_within(command.arrived_at, command.now, ARRIVAL_WINDOW, "arrived_at")
    check_received(command.received, state.lines)
    return [
        ShipmentArrivedV2(
            shipment_id=state.shipment_id,
            airport=state.airport,  # goods land where they were announced; not the client's say
            part_no=1,
            arrived_at=command.arrived_at,
            lots=tuple(
                CountedLot(
                    line_no=lot.line_no,
                    lot_number=lot.lot_number,
                    counted=lot.quantity,
                    accepted=lot.quantity,
                )
                for lot in command.received
            ),
            remarks=command.remarks,
        )
    ]


def announced_lots(lines: tuple[LineItem, ...]) -> dict[tuple[int, str], int]:
    """Announced quantity per (line, lot); a line without lots counts as one lot ``NO_LOT``."""
    quantities = {(line.line_no, NO_LOT): line.quantity for line in lines if not line.lots}
    for line in lines:
        quantities |= {(line.line_no, lot.lot_number): lot.quantity for lot in line.lots}
    return quantities


def check_received(received: tuple[ReceivedLot, ...], lines: tuple[LineItem, ...]) -> None:
    announced = announced_lots(lines)
    line_numbers = {line.line_no for line in lines}
    seen: set[tuple[int, str]] = set()
    for index, lot in enumerate(received):
        key, where = (lot.line_no, lot.lot_number), f"received/{index}"
        if lot.line_no not in line_numbers:
            raise InvalidInput(
                f"no line {lot.line_no} was announced",
                field=f"{where}/line_no",
                code="unknown-line",
            )
        if key not in announced:
            raise InvalidInput(
                f"line {lot.line_no} has no lot {lot.lot_number!r}",
                field=f"{where}/lot_number",
                code="unknown-lot",
            )
        if key in seen:
            raise InvalidInput(
                f"lot {lot.lot_number!r} of line {lot.line_no} is listed twice",
                field=f"{where}/lot_number",
                code="duplicate-lot",
            )
        seen.add(key)
        check_received_quantity(lot, announced[key], where)


def check_received_quantity(lot: ReceivedLot, announced: int, where: str) -> None:
    # A short shipment is a fact to record; more than announced is a counting error.
    if lot.quantity < 0:
        raise InvalidInput(
            "a received quantity cannot be negative", field=f"{where}/quantity", code="negative"
        )
    if lot.quantity > announced:
        raise InvalidInput(
            f"received {lot.quantity} of lot {lot.lot_number!r}, more than the {announced} "
            "announced",
            field=f"{where}/quantity",
            code="over-received",
        )


decider: Decider[Shipment, Command] = Decider(Shipment(), evolve, decide)
