"""The one-shot arrival: part 1, fully counted as announced or less, and the consignment
closed in the same decision (``ShipmentArrived`` v2 and ``ShipmentClosed``).

Kept for clients of the first API; the shelf-life gate and the expiry check apply as in an
inspection, without a supervisor's acceptance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.intake.rules.announcement import check_announced
from services.intake.rules.closing import CloseShipment, close
from services.intake.rules.inspection import LotCount, RecordInspection, inspect
from services.intake.rules.shelf_life import ShelfLifePolicy
from services.intake.rules.state import NO_LOT, Shipment, ShipmentStatus, evolve
from shared.contracts.base import DomainEvent
from shared.contracts.values import LineItem, ReceivedLot
from shared.decider import InvalidInput, StateConflict


@dataclass(frozen=True)
class RecordArrival:
    """The one-shot arrival: part 1, fully counted, and the consignment closed."""

    arrived_at: datetime
    received: tuple[ReceivedLot, ...]
    remarks: str
    now: datetime
    recorded_by: str = ""
    policy: ShelfLifePolicy = field(default_factory=ShelfLifePolicy)


def record_arrival(command: RecordArrival, state: Shipment) -> list[DomainEvent]:
    if state.status not in (ShipmentStatus.ANNOUNCED, ShipmentStatus.CANCELLED):
        check_announced(state)
        raise StateConflict(
            "the arrival of this shipment is already recorded", code="already-arrived"
        )
    check_received(command.received, state.lines)
    inspection = RecordInspection(
        flight="",
        arrived_at=command.arrived_at,
        entered_cold_store_at=None,
        lots=tuple(LotCount(r.line_no, r.lot_number, r.quantity) for r in command.received),
        recorded_by=command.recorded_by,
        by_supervisor=False,
        now=command.now,
        remarks=command.remarks,
        policy=command.policy,
    )
    arrived = inspect(inspection, state)
    after = state
    for event in arrived:
        after = evolve(after, event)
    closing = CloseShipment(command.recorded_by, command.remarks, command.now)
    return [*arrived, *close(closing, after)]


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
