"""Units per lot turned back into the consignment's lines, as release and refusal events
carry them (and allocation reads them)."""

from __future__ import annotations

from datetime import date

from services.customs.domain.case import NO_LOT, ClearanceCase, LotKey
from shared.contracts.values import LineItem, Lot


def lines_of(state: ClearanceCase, units: dict[LotKey, int]) -> tuple[LineItem, ...]:
    """The case's lines carrying ``units`` per lot; empty lots and lines dropped.

    A lot not on the manifest keeps the expiry intake read; when intake had none, the
    line's earliest announced expiry (else the arrival date) stands in, so that the lot
    is handed out early rather than late."""
    result = []
    for line in state.lines:
        mine = {k: q for k, q in units.items() if k[0] == line.line_no and q > 0}
        if not mine:
            continue
        if set(mine) == {(line.line_no, NO_LOT)}:
            result.append(_with(line, mine[(line.line_no, NO_LOT)], ()))
            continue
        lots = _lots(state, line, mine)
        result.append(_with(line, sum(lot.quantity for lot in lots), lots))
    return tuple(result)


def _lots(state: ClearanceCase, line: LineItem, units: dict[LotKey, int]) -> tuple[Lot, ...]:
    listed = {lot.lot_number for lot in line.lots}
    ordered = [lot.lot_number for lot in line.lots if (line.line_no, lot.lot_number) in units]
    ordered += sorted(n for (_, n) in units if n not in listed)
    return tuple(
        Lot(
            lot_number=number,
            expiry_date=_expiry(state, line, number),
            quantity=units[(line.line_no, number)],
        )
        for number in ordered
    )


def _expiry(state: ClearanceCase, line: LineItem, number: str) -> date:
    """A lot's expiry: the manifest's, else what intake read, else the line's fallback."""
    for lot in reversed(line.lots):  # the last listing wins, as it always has
        if lot.lot_number == number:
            return lot.expiry_date
    key = (line.line_no, number)
    return state.expiries[key] if key in state.expiries else _fallback_expiry(state, line)


def _fallback_expiry(state: ClearanceCase, line: LineItem) -> date:
    if line.lots:
        return min(lot.expiry_date for lot in line.lots)
    return state.arrived_at.date() if state.arrived_at else date.min


def _with(line: LineItem, quantity: int, lots: tuple[Lot, ...]) -> LineItem:
    return line.model_copy(update={"quantity": quantity, "lots": lots})


def nearest_expiry(state: ClearanceCase) -> date | None:
    """The earliest expiry among the lots still to be cleared (or announced, before arrival):
    of the lots ``lines_of`` gives for the remaining units, worked out without building them."""
    if not state.parts:
        return min((lot.expiry_date for line in state.lines for lot in line.lots), default=None)
    remaining = [k for k, b in state.ledger.items() if b.remaining > 0]
    expiries = []
    for line in state.lines:
        numbers = {number for line_no, number in remaining if line_no == line.line_no}
        if numbers and numbers != {NO_LOT}:  # a line of no lot but NO_LOT has no lots
            expiries += [_expiry(state, line, number) for number in numbers]
    return min(expiries, default=None)
