"""The shelf-life gate at arrival, and the lots that expired on the way.

A lot with less shelf life left than its category's minimum is flagged. It is accepted only
with an explicit reason given by an intake supervisor; otherwise its units are refused
(``short_shelf_life_refused``). A lot already past its expiry date on the day of arrival is
rejected ``expired`` whatever anyone says.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as default
from datetime import date

from shared.contracts.values import Category, CountedLot, Rejection, RejectionReason
from shared.decider import NotPermitted

DEFAULT_MINIMUM_DAYS: dict[Category, int] = {
    Category.VACCINE: 70,  # 10 weeks
    Category.DRUG: 365,  # 12 months
    Category.MEDICAL_SUPPLY: 365,  # test kits and medical supplies: 12 months
    Category.EQUIPMENT: 0,  # no gate
}


@dataclass(frozen=True)
class ShelfLifePolicy:
    """The shelf life a lot must have left at arrival, in days, per category."""

    minimum_days: dict[Category, int] = default(default_factory=lambda: dict(DEFAULT_MINIMUM_DAYS))

    def minimum(self, category: Category) -> int:
        return self.minimum_days.get(category, DEFAULT_MINIMUM_DAYS[category])


@dataclass(frozen=True)
class Acceptance:
    """A supervisor's acceptance of a lot flagged short shelf life (empty reason: none)."""

    reason: str = ""
    by_supervisor: bool = False


def judge(
    lot: CountedLot,
    category: Category,
    arrival_day: date,
    policy: ShelfLifePolicy,
    acceptance: Acceptance = Acceptance(),
    field: str = "accept_short_shelf_life",
) -> CountedLot:
    """The lot as the gate lets it through: accepted units moved to a rejection if need be."""
    if lot.expiry_date is None:
        return lot
    if lot.expiry_date < arrival_day:
        return reject_accepted(lot, RejectionReason.EXPIRED)
    left = (lot.expiry_date - arrival_day).days
    if left >= policy.minimum(category):
        return lot
    flagged = lot.model_copy(update={"short_shelf_life": True})
    if not acceptance.reason.strip():
        return reject_accepted(flagged, RejectionReason.SHORT_SHELF_LIFE_REFUSED)
    if not acceptance.by_supervisor:
        raise NotPermitted(
            f"lot {lot.lot_number!r} has {left} days of shelf life left; only an intake "
            "supervisor may accept it",
            field=field,
            code="supervisor-required",
        )
    return flagged.model_copy(update={"acceptance_reason": acceptance.reason.strip()})


def reject_accepted(lot: CountedLot, reason: RejectionReason) -> CountedLot:
    """Every unit still accepted moves to a rejection with this reason."""
    if lot.accepted == 0:
        return lot
    rejections = merge_rejections(
        (*lot.rejections, Rejection(reason=reason, quantity=lot.accepted))
    )
    return CountedLot.model_validate(
        lot.model_dump() | {"accepted": 0, "rejections": [r.model_dump() for r in rejections]}
    )


def merge_rejections(rejections: tuple[Rejection, ...]) -> tuple[Rejection, ...]:
    """One rejection per reason, quantities summed, the first note kept; order of first use."""
    merged: dict[RejectionReason, Rejection] = {}
    for r in rejections:
        seen = merged.get(r.reason)
        merged[r.reason] = (
            r if seen is None else seen.model_copy(update={"quantity": seen.quantity + r.quantity})
        )
    return tuple(merged.values())
