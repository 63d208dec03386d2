"""Office hours and the clearance target: the 2021 target was release the same day, and at
most 8 working hours when a partial physical examination is needed. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.decider import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PARTIAL_EXAMINATION_HOURS = 8
DEFAULT_OFFICE_HOURS = "Mon-Fri 07:30-16:30 Asia/Ho_Chi_Minh"
_SPEC = re.compile(
    r"^(?P<d1>[a-z]{3})-(?P<d2>[a-z]{3}) (?P<h1>\d\d):(?P<m1>\d\d)-(?P<h2>\d\d):(?P<m2>\d\d)"
    r" (?P<tz>\S+)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class OfficeHours:
    """The customs office's working hours: days ``first..last`` (0 = Monday), local time."""

    first_day: int
    last_day: int
    opens: time
    closes: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str) -> OfficeHours:
        """From e.g. ``Mon-Fri 07:30-16:30 Asia/Ho_Chi_Minh``."""
        found = _SPEC.match(spec.strip())
        first, last = (found["d1"].lower(), found["d2"].lower()) if found else ("", "")
        if not found or first not in DAYS or last not in DAYS:
            raise InvalidInput(f"office hours {spec!r}: expected e.g. {DEFAULT_OFFICE_HOURS!r}")
        opens = time(int(found["h1"]), int(found["m1"]))
        closes = time(int(found["h2"]), int(found["m2"]))
        if opens >= closes:
            raise InvalidInput(f"office hours {spec!r}: opening must precede closing")
        return cls(DAYS.index(first), DAYS.index(last), opens, closes, ZoneInfo(found["tz"]))

    def working_day(self, moment: datetime) -> bool:
        return self.first_day <= moment.astimezone(self.zone).weekday() <= self.last_day

    def out_of_hours(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return not (self.working_day(moment) and self.opens <= local.time() < self.closes)

    def add_working_hours(self, start: datetime, hours: int) -> datetime:
        """The moment ``hours`` working hours after ``start`` (counted inside office hours)."""
        left = timedelta(hours=hours)
        local = start.astimezone(self.zone)
        while True:
            day_open = datetime.combine(local.date(), self.opens, self.zone)
            day_close = datetime.combine(local.date(), self.closes, self.zone)
            if self.working_day(day_open) and local < day_close:
                begin = max(local, day_open)
                if begin + left <= day_close:
                    return begin + left
                left -= day_close - begin
            local = datetime.combine(local.date() + timedelta(days=1), time(0), self.zone)


def clearance_target(
    arrived_at: datetime, partial_examination: bool, hours: OfficeHours
) -> datetime:
    """Same day (end of the arrival's local day); 8 working hours for a partial examination."""
    if partial_examination:
        return hours.add_working_hours(arrived_at, PARTIAL_EXAMINATION_HOURS)
    local = arrived_at.astimezone(hours.zone)
    return datetime.combine(local.date() + timedelta(days=1), time(0), hours.zone)
