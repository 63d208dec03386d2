"""State at a date: ``as_of`` read, and the fold of recorded events into consignments. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from services.reporting.domain.facts import Consignment, evolve, new_consignment
from services.reporting.domain.measures import VIET_NAM
from shared.contracts.base import DomainEvent
from shared.decider import InvalidInput

EARLIEST = datetime(2020, 1, 1, tzinfo=VIET_NAM)
"""No AidPort event is older: an earlier ``as_of`` is a mistake, not an empty picture."""
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Recorded:
    """A consumed event as reporting keeps it: its subject and its ``ce_time``."""

    subject: str
    recorded_at: datetime
    event: DomainEvent


def parse_as_of(text: str, now: datetime) -> datetime:
    """The last moment ``as_of`` includes: a date is the whole day in Viet Nam time; a time
    without an offset is Viet Nam time too. Refuses the unreadable, the future and the
    years before AidPort."""
    try:
        if _DATE.match(text):
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1), time(), VIET_NAM)
            moment -= timedelta(microseconds=1)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=VIET_NAM)
    except (ValueError, OverflowError) as error:
        raise InvalidInput(
            "as_of must be a date (2021-08-01) or a time (2021-08-01T12:00:00+07:00)",
            field="as_of",
            code="as-of-unreadable",
        ) from error
    if moment < EARLIEST:
        raise InvalidInput(
            f"as_of must not be before {EARLIEST.date()}", field="as_of", code="as-of-too-early"
        )
    if moment > now and not _DATE.match(text):
        raise InvalidInput("as_of must not be in the future", field="as_of", code="as-of-future")
    if _DATE.match(text) and moment - now > timedelta(days=1):
        raise InvalidInput("as_of must not be in the future", field="as_of", code="as-of-future")
    return min(moment, now)


def fold(events: Iterable[Recorded]) -> dict[str, Consignment]:
    """Every consignment after ``events``, in the order given."""
    state: dict[str, Consignment] = {}
    for r in events:
        current = state.get(r.subject) or new_consignment(r.subject)
        state[r.subject] = evolve(current, r.event, r.recorded_at)
    return state
