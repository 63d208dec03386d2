"""Rules that more than one service's domain applies to the shared value objects."""

from __future__ import annotations

from shared.contracts.values import LineItem
from shared.decider import InvalidInput


def check_lots_add_up(line: LineItem, where: str) -> None:
    """A line's lots hold exactly its quantity: otherwise doses are lost or invented when
    intake announces the line, or when allocation splits it lot by lot (FEFO)."""
    total = sum(lot.quantity for lot in line.lots)
    if line.lots and total != line.quantity:
        raise InvalidInput(
            f"the lots of line {line.line_no} add up to {total}, the line says {line.quantity}",
            field=f"{where}/lots",
            code="lots-do-not-add-up",
        )
