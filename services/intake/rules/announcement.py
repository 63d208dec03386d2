"""Announcing a consignment, and amending or cancelling it before anything arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from services.intake.rules.state import Shipment, ShipmentStatus
from shared.contracts.base import DomainEvent
from shared.contracts.intake import ShipmentAmended, ShipmentAnnounced, ShipmentCancelled
from shared.contracts.limits import MAX_LOTS
from shared.contracts.rules import check_lots_add_up
from shared.contracts.values import Category, Channel, LineItem, Lot, Priority
from shared.decider import InvalidInput, NotFound, StateConflict
from shared.reference_data import airports

# Airport clocks drift; an arrival stamped a few minutes "ahead" of ours is not a future arrival.
CLOCK_SKEW = timedelta(minutes=5)
# The plausible window of dates: anything outside is a typing error (9999-12-31), not a plan.
ARRIVAL_WINDOW = timedelta(days=365)
SHELF_LIFE_WINDOW = timedelta(days=3653)  # ten years


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
    priority: Priority = Priority.ROUTINE


@dataclass(frozen=True)
class AmendShipment:
    """The full announcement as it now stands (the airport and airway bill name the
    consignment and stay), with the reason for the change."""

    reason: str
    amended_by: str
    donor: str
    channel: Channel
    flight: str
    expected_arrival: datetime
    consignee: str
    lines: tuple[LineItem, ...]
    now: datetime
    priority: Priority | None = None  # None: unchanged


@dataclass(frozen=True)
class CancelShipment:
    reason: str
    cancelled_by: str
    now: datetime


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
            priority=command.priority,
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


# --- corrections before arrival ---------------------------------------------------------------


def amend(command: AmendShipment, state: Shipment) -> list[DomainEvent]:
    check_before_arrival(state, "amended")
    assert state.shipment_id is not None
    check_reason(command.reason)
    check_zoned(command.expected_arrival, "expected_arrival")
    check_within(command.expected_arrival, command.now, ARRIVAL_WINDOW, "expected_arrival")
    check_lines(command.lines, command.now.date())
    return [
        ShipmentAmended(
            shipment_id=state.shipment_id,
            reason=command.reason,
            amended_by=command.amended_by,
            amended_at=command.now,
            donor=command.donor,
            channel=command.channel,
            flight=command.flight,
            airway_bill=state.airway_bill,
            expected_arrival=command.expected_arrival,
            consignee=command.consignee,
            lines=command.lines,
            priority=command.priority,
        )
    ]


def cancel(command: CancelShipment, state: Shipment) -> list[DomainEvent]:
    check_before_arrival(state, "cancelled")
    assert state.shipment_id is not None
    check_reason(command.reason)
    return [
        ShipmentCancelled(
            shipment_id=state.shipment_id,
            reason=command.reason,
            cancelled_by=command.cancelled_by,
            cancelled_at=command.now,
        )
    ]


def check_before_arrival(state: Shipment, what: str) -> None:
    """Once goods are on the ground the manifest is history: the counts tell the rest."""
    check_announced(state)
    if state.status is ShipmentStatus.CANCELLED:
        raise StateConflict("this consignment is cancelled", code="cancelled")
    if state.status is not ShipmentStatus.ANNOUNCED:
        raise StateConflict(
            f"goods of this consignment have arrived, so it can no longer be {what}",
            code="already-arrived",
        )


def check_announced(state: Shipment) -> None:
    if state.shipment_id is None:
        raise NotFound("no such shipment has been announced", code="shipment-not-found")


def check_reason(reason: str, field: str = "reason") -> None:
    if not reason.strip():
        raise InvalidInput("say why", field=field, code="no-reason")
