"""Quantities moved by an officer (adjustment) or by a new decision (amendment): each
line stays conserved (shares + reserve = released), every share stays whole packs, and
the lots are handed out again first-expiry-first-out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from services.allocation.policies.engine import lots_of
from services.allocation.policy import RESERVE
from shared.contracts.allocation import DraftLine, DraftShare, QuantityChange, ShareBasis
from shared.contracts.values import Lot
from shared.decider import InvalidInput

LotKey = tuple[date, str]  # expiry first: sorting the keys sorts first-expiry-first


def apply_changes(
    lines: tuple[DraftLine, ...], changes: Iterable[QuantityChange], reason: str
) -> tuple[DraftLine, ...]:
    """The lines with the changes made; ``InvalidInput`` if a line would not conserve."""
    by_line: dict[int, dict[str, int]] = {}
    for index, change in enumerate(changes):
        wanted = by_line.setdefault(change.line_no, {})
        if change.recipient_code in wanted:
            raise InvalidInput(
                f"recipient {change.recipient_code} changed twice on line {change.line_no}",
                field=f"changes/{index}/recipient_code",
            )
        wanted[change.recipient_code] = change.quantity
    known = {x.line_no for x in lines}
    for line_no in by_line:
        if line_no not in known:
            raise InvalidInput(f"the round has no line {line_no}", field="changes/line_no")
    return tuple(
        _changed(x, by_line[x.line_no], reason) if x.line_no in by_line else x for x in lines
    )


def _changed(line: DraftLine, wanted: dict[str, int], reason: str) -> DraftLine:
    quantities = {s.recipient_code: s.quantity for s in line.shares}
    reserve = wanted.pop(RESERVE, line.reserve_quantity)
    for code, quantity in wanted.items():
        if quantity % line.pack_size:
            raise InvalidInput(
                f"line {line.line_no}: {code} gets {quantity}, not whole packs of {line.pack_size}",
                field="changes/quantity",
                code="not-whole-packs",
            )
        quantities[code] = quantity
    allocated = sum(quantities.values())
    if allocated + reserve != line.released_quantity:
        raise InvalidInput(
            f"line {line.line_no}: allocated {allocated} + reserve {reserve} must equal"
            f" released {line.released_quantity}",
            field="changes",
            code="not-conserved",
        )
    lots = _moved_lots(line, quantities) if lots_of(line) else {}
    previous = {s.recipient_code: s for s in line.shares}
    shares = []
    for code, quantity in quantities.items():
        before = previous.get(code)
        moved = code in wanted and (before is None or before.quantity != quantity)
        shares.append(
            DraftShare(
                recipient_code=code,
                quantity=quantity,
                packs=quantity // line.pack_size,
                basis=ShareBasis.ADJUSTED if moved or before is None else before.basis,
                reasoning=reason[:200] if moved or before is None else before.reasoning,
                lots=lots.get(code, ()),
            )
        )
    return line.model_copy(
        update={
            "shares": tuple(shares),
            "reserve_quantity": reserve,
            "reserve_lots": lots.get(RESERVE, ()),
        }
    )


def _moved_lots(line: DraftLine, quantities: dict[str, int]) -> dict[str, tuple[Lot, ...]]:
    """Lots follow the quantities that moved, and only those: who keeps its quantity keeps
    its lots; who gets less gives back its latest-expiring parts; who gets more takes the
    earliest-expiring of what is free (the reserve and what was given back)."""
    held = {s.recipient_code: _counted(s.lots) for s in line.shares}
    free = _counted(line.reserve_lots)
    for code, parts in held.items():
        surplus = sum(parts.values()) - quantities.get(code, 0)
        for key in sorted(parts, reverse=True):
            if surplus <= 0:
                break
            back = min(parts[key], surplus)
            parts[key] -= back
            free[key] = free.get(key, 0) + back
            surplus -= back
    growing = [c for c in quantities if quantities[c] > sum(held.get(c, {}).values())]
    for code in sorted(growing, key=lambda c: (-quantities[c], c)):
        parts = held.setdefault(code, {})
        wanted = quantities[code] - sum(parts.values())
        for key in sorted(free):
            if wanted == 0:
                break
            taken = min(free[key], wanted)
            free[key] -= taken
            parts[key] = parts.get(key, 0) + taken
            wanted -= taken
    return {code: _lots(parts) for code, parts in [*held.items(), (RESERVE, free)]}


def _counted(lots: tuple[Lot, ...]) -> dict[LotKey, int]:
    counted: dict[LotKey, int] = {}
    for lot in lots:
        key = (lot.expiry_date, lot.lot_number)
        counted[key] = counted.get(key, 0) + lot.quantity
    return counted


def _lots(parts: dict[LotKey, int]) -> tuple[Lot, ...]:
    return tuple(
        Lot(lot_number=number, expiry_date=expiry, quantity=q)
        for (expiry, number), q in sorted(parts.items())
        if q > 0
    )
