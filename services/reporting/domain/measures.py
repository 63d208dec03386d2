"""Per consignment: its one stage, its doses, its lead times, what is stuck. Pure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from services.reporting.domain.facts import Consignment, Notice
from shared.contracts.values import Unit

VIET_NAM = timezone(timedelta(hours=7), "ICT")
"""Dates (``as_of``, same-day clearance) are days in Viet Nam, where the goods land."""
VAR_DUE = timedelta(days=3)
"""A Vaccine Arrival Report is due within 3 days of the part's arrival."""
TO_PROVINCE = timedelta(days=7)
"""The 2021 target: within 7 days of release the goods are at the province."""


class Stage(StrEnum):
    """Where a consignment stands: exactly one of these at any time."""

    ANNOUNCED = "announced"
    ARRIVED = "arrived"
    CUSTOMS_HELD = "customs_held"
    CUSTOMS_EXAMINED = "customs_examined"
    RELEASED = "released"
    ALLOCATED_DRAFT = "allocated_draft"
    ALLOCATED_APPROVED = "allocated_approved"
    DISPATCHED = "dispatched"
    RECEIVED = "received"
    REFUSED = "refused"
    CANCELLED = "cancelled"


def _live_notices(c: Consignment) -> list[Notice]:
    return [n for n in c.notices.values() if n.quantity > 0 or n.received_at is not None]


def stage_of(c: Consignment) -> Stage:
    """The furthest step reached; a later fact wins whatever order the events came in."""
    notices = _live_notices(c)
    if c.cancelled_at is not None and not c.parts:
        return Stage.CANCELLED
    if notices and all(n.received_at is not None for n in notices):
        return Stage.RECEIVED
    if any(n.dispatched_at is not None or n.received_at is not None for n in notices):
        return Stage.DISPATCHED
    if notices or any(r.approved_at is not None for r in c.rounds.values()):
        return Stage.ALLOCATED_APPROVED
    if c.rounds:
        return Stage.ALLOCATED_DRAFT
    if c.released_at is not None:
        return Stage.RELEASED
    if c.refused_at is not None:
        return Stage.REFUSED
    if c.open_holds:
        return Stage.CUSTOMS_HELD
    if c.examined_at is not None:
        return Stage.CUSTOMS_EXAMINED
    if c.parts:
        return Stage.ARRIVED
    return Stage.ANNOUNCED


def _is_doses(c: Consignment, line_no: int) -> bool:
    line = c.lines.get(line_no)
    return line is not None and line.unit is Unit.DOSES


def announced_doses(c: Consignment) -> int:
    return sum(line.quantity for line in c.lines.values() if line.unit is Unit.DOSES)


def arrived_doses(c: Consignment) -> int:
    return sum(
        units for p in c.parts.values() for n, units in p.accepted.items() if _is_doses(c, n)
    )


def released_doses(c: Consignment) -> int:
    return sum(units for n, units in c.released.items() if _is_doses(c, n))


def allocated_doses(c: Consignment) -> int:
    return sum(n.quantity for n in c.notices.values() if n.unit is Unit.DOSES)


def received_doses(c: Consignment) -> int:
    return sum(n.accepted or 0 for n in c.notices.values() if n.unit is Unit.DOSES)


def rejected_doses(c: Consignment) -> int:
    rejections = [r for p in c.parts.values() for r in p.rejected]
    rejections += list(c.refusals)
    rejections += [r for n in c.notices.values() for r in n.rejected]
    return sum(r.quantity for r in rejections if _is_doses(c, r.line_no))


def current_doses(c: Consignment) -> int:
    """The doses a consignment stands for at its stage: announced until counted, then
    accepted at the airport, then released by customs."""
    if c.released:
        return released_doses(c)
    if c.parts:
        return arrived_doses(c)
    return announced_doses(c)


class Step(StrEnum):
    AIRCRAFT_TO_RELEASE = "aircraft_to_release"
    RELEASE_TO_APPROVED_NOTICE = "release_to_approved_notice"
    NOTICE_TO_RECEIPT = "notice_to_receipt"
    RELEASE_TO_RECEIPT = "release_to_receipt"


def approved_at(c: Consignment) -> datetime | None:
    """When the first notice of the consignment was approved (its round, or the notice)."""
    times = [r.approved_at for r in c.rounds.values() if r.approved_at is not None]
    times += [n.allocated_at for n in c.notices.values() if n.allocated_at is not None]
    return min(times, default=None)


def lead_times(c: Consignment) -> Iterator[tuple[Step, timedelta]]:
    """Every lead time the consignment has completed: one per step, one per notice."""
    arrival, released, approved = c.first_arrival, c.released_at, approved_at(c)
    if arrival is not None and released is not None:
        yield Step.AIRCRAFT_TO_RELEASE, released - arrival
    if released is not None and approved is not None:
        yield Step.RELEASE_TO_APPROVED_NOTICE, approved - released
    for notice in sorted(c.notices.values(), key=lambda n: n.notice_number):
        if notice.received_at is None:
            continue
        if notice.allocated_at is not None:
            yield Step.NOTICE_TO_RECEIPT, notice.received_at - notice.allocated_at
        if released is not None:
            yield Step.RELEASE_TO_RECEIPT, notice.received_at - released


def local_day(moment: datetime) -> datetime:
    return moment.astimezone(VIET_NAM).replace(hour=0, minute=0, second=0, microsecond=0)


def within_target(step: Step, start: datetime, duration: timedelta) -> bool:
    """Same-day clearance (a Viet Nam calendar day) and seven days to the province."""
    if step is Step.AIRCRAFT_TO_RELEASE:
        return local_day(start + duration) == local_day(start)
    if step is Step.RELEASE_TO_APPROVED_NOTICE:
        return duration <= TO_PROVINCE
    return duration <= TO_PROVINCE


@dataclass(frozen=True)
class Stuck:
    kind: str  # clearance_over_target | arrival_report_overdue | notice_not_received
    shipment_id: str
    reference: str
    since: datetime
    detail: str


def deadlines(c: Consignment) -> Iterator[tuple[Stuck, datetime]]:
    """What will be stuck, each with the first moment it is: the picture at any ``now`` is
    the deadlines already passed, so they can be stored once and filtered by time."""
    arrival = c.first_arrival
    cleared = c.released_at is not None or c.refused_at is not None
    if arrival is not None and not cleared:
        holds = ", ".join(sorted(c.open_holds))
        detail = f"held: {holds}" if holds else "not released on the day it arrived"
        stuck = Stuck("clearance_over_target", c.shipment_id, c.airway_bill, arrival, detail)
        yield stuck, local_day(arrival) + timedelta(days=1)  # the next day in Viet Nam
    for part in sorted(c.parts.values(), key=lambda p: p.part_no):
        for line_no in part.vaccine_lines:
            due = part.arrived_at + VAR_DUE
            if (part.part_no, line_no) not in c.reports_filed:
                reference = f"part {part.part_no} line {line_no}"
                stuck = Stuck("arrival_report_overdue", c.shipment_id, reference, due, "VAR due")
                yield stuck, _past(due)
    for notice in sorted(c.notices.values(), key=lambda n: n.notice_number):
        if notice.allocated_at is None or notice.received_at is not None or not notice.quantity:
            continue
        detail = f"{notice.province_code}: not received after 7 days"
        stuck = Stuck(
            "notice_not_received", c.shipment_id, notice.notice_number, notice.allocated_at, detail
        )
        yield stuck, _past(notice.allocated_at + TO_PROVINCE)


def _past(moment: datetime) -> datetime:
    """The first moment after ``moment``: times tick in microseconds, here and in PostgreSQL."""
    return moment + timedelta(microseconds=1)


def stuck(c: Consignment, now: datetime) -> Iterator[Stuck]:
    """What waits past its target at ``now``."""
    return (s for s, stuck_from in deadlines(c) if now >= stuck_from)
