"""Closing a consignment once every part is in: what was accepted goes on to customs.

Closing needs at least one part: a consignment of which nothing came is cancelled instead.
When nothing was accepted the consignment closes with nothing to clear, and customs and
allocation end their side too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.intake.rules.state import CLOSED, NO_LOT, Shipment, ShipmentStatus, Tally
from shared.contracts.intake import ShipmentClosed
from shared.contracts.values import Discrepancy, DiscrepancyKind, LineItem, Lot
from shared.decider import NotFound, StateConflict


@dataclass(frozen=True)
class CloseShipment:
    closed_by: str
    remarks: str
    now: datetime


def close(command: CloseShipment, state: Shipment) -> list[ShipmentClosed]:
    check_open(state)
    assert state.shipment_id is not None
    if not state.parts:
        raise StateConflict(
            "nothing of this consignment has arrived: cancel it instead of closing it",
            code="nothing-arrived",
        )
    tallies = state.tallies()
    return [
        ShipmentClosed(
            shipment_id=state.shipment_id,
            closed_by=command.closed_by,
            closed_at=command.now,
            accepted=accepted_lines(state.lines, tallies),
            remarks=command.remarks,
            discrepancies=short_shipments(state.lines, tallies),
        )
    ]


def check_open(state: Shipment) -> None:
    if state.shipment_id is None:
        raise NotFound("no such shipment has been announced", code="shipment-not-found")
    if state.status is ShipmentStatus.CANCELLED:
        raise StateConflict("this consignment is cancelled", code="cancelled")
    if state.status in CLOSED:
        raise StateConflict("this consignment is already closed", code="already-closed")


def accepted_lines(
    lines: tuple[LineItem, ...], tallies: dict[tuple[int, str], Tally]
) -> tuple[LineItem, ...]:
    """Each line with the units accepted over all parts, lot by lot; empty lots and lines
    dropped, so that downstream sees only what may be cleared."""
    result = []
    for line in lines:
        mine = {lot: t for (n, lot), t in tallies.items() if n == line.line_no and t.accepted}
        lots = tuple(
            Lot(lot_number=number, expiry_date=t.expiry_date, quantity=t.accepted)
            for number, t in mine.items()
            if number != NO_LOT and t.expiry_date is not None
        )
        quantity = sum(t.accepted for t in mine.values())
        if quantity:
            result.append(line.model_copy(update={"quantity": quantity, "lots": lots}))
    return tuple(result)


def short_shipments(
    lines: tuple[LineItem, ...], tallies: dict[tuple[int, str], Tally]
) -> tuple[Discrepancy, ...]:
    """Every announced lot (or lot-less line) counted short over all parts."""
    announced = [
        (line.line_no, lot.lot_number, lot.quantity) for line in lines for lot in line.lots
    ]
    announced += [(line.line_no, NO_LOT, line.quantity) for line in lines if not line.lots]
    found = []
    for line_no, lot_number, quantity in announced:
        counted = tallies.get((line_no, lot_number), Tally()).counted
        if counted < quantity:
            found.append(
                Discrepancy(
                    kind=DiscrepancyKind.SHORT_SHIPMENT,
                    line_no=line_no,
                    lot_number=lot_number,
                    quantity=quantity - counted,
                    reason=f"announced {quantity}, counted {counted} when closing",
                )
            )
    return tuple(found)
