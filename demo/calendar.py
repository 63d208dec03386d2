"""Where 2021 lands today: the intake API takes arrivals of the last 365 days only.

The replay keeps every interval of 2021 by moving the whole calendar by one offset: whole
years when one fits (24 Feb 2021 stays a 24 February), else whole weeks (weekdays kept),
with the latest arrival at least a day before today and the earliest a week inside the
window, so that a run lasting hours, or started just before midnight, stays valid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

WINDOW = timedelta(days=365)  # the intake API's limit on past arrivals
MARGIN = timedelta(days=7)  # kept free at the old end of the window


@dataclass(frozen=True)
class Shift:
    years: int = 0
    weeks: int = 0

    def __call__(self, day: date) -> date:
        if self.years:
            try:
                day = day.replace(year=day.year + self.years)
            except ValueError:  # 29 February into a common year
                day = day.replace(year=day.year + self.years, day=28)
        return day + timedelta(weeks=self.weeks)

    def describe(self) -> str:
        if self.years:
            return f"+{self.years} years (2021 dates kept, year {2021 + self.years})"
        return f"+{self.weeks} weeks (weekdays kept)"


def shift_for(days: Iterable[date], today: date) -> Shift:
    first, last = min(days := list(days)), max(days)
    latest_allowed, earliest_allowed = today - timedelta(days=1), today - WINDOW + MARGIN
    if last - first > latest_allowed - earliest_allowed:
        raise ValueError(f"{first} to {last} does not fit into one year of arrivals")
    years = latest_allowed.year - last.year
    for candidate in (years, years - 1):
        shift = Shift(years=candidate)
        if earliest_allowed <= shift(first) and shift(last) <= latest_allowed:
            return shift
    return Shift(weeks=(latest_allowed - last).days // 7)
