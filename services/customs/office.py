"""The customs office's working hours, from ``AIDPORT_CUSTOMS_OFFICE_HOURS``
(default ``Mon-Fri 07:30-16:30 Asia/Ho_Chi_Minh``): they decide the out-of-hours flag and
the 8 working hours of a partial examination."""

from __future__ import annotations

import os
from functools import cache

from services.customs.domain.schedule import DEFAULT_OFFICE_HOURS, OfficeHours

ENV = "AIDPORT_CUSTOMS_OFFICE_HOURS"


def office_hours() -> OfficeHours:
    return _parsed(os.environ.get(ENV, DEFAULT_OFFICE_HOURS))


@cache
def _parsed(spec: str) -> OfficeHours:
    return OfficeHours.parse(spec)
