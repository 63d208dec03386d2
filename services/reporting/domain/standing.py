"""What one consignment stands for in the national picture: the rows that the dashboard and the
summaries add up. Pure, derived from the folded facts alone.

The projection stores a consignment's standing beside its facts, so that the live picture is
added up in SQL over narrow rows instead of decoding every consignment on each request; an
``as_of`` replay derives the same rows in memory and adds them up in Python (``tally``).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime

from services.reporting.domain import measures as m
from services.reporting.domain.facts import Consignment, Rejected
from shared.contracts.values import Unit

STANDING_VERSION = 1
"""Raise it when a derivation below changes: the service derives the stored rows again at
start (``projections.derive_missing_standings``)."""

HISTOGRAM_HOURS: tuple[float, ...] = (1, 3, 6, 12, 24, 48, 72, 168, 336, float("inf"))
"""Upper bounds of the lead-time histograms, in hours."""


@dataclass(frozen=True)
class Totals:
    counted: bool  # announced or seen anywhere: on the dashboard
    in_totals: bool  # counted, and not cancelled before anything came
    donor: str
    channel: str
    stage: m.Stage
    current_doses: int
    announced_doses: int
    released_doses: int
    allocated_doses: int
    received_doses: int


@dataclass(frozen=True)
class NoticeRow:
    shipment_id: str
    notice_number: str
    recipient: str  # a province's or a national recipient's code
    donor: str
    product: str
    unit: str
    doses: bool
    quantity: int
    accepted: int | None
    allocated_at: datetime | None
    acknowledged_at: datetime | None
    dispatched_at: datetime | None
    received_at: datetime | None


@dataclass(frozen=True)
class LineRow:
    """One announced line of a consignment in the totals, and what became of it."""

    product: str
    category: str
    unit: str
    announced: int
    released: int
    allocated: int
    received: int


@dataclass(frozen=True)
class LeadTime:
    step: m.Step
    hours: float
    within_target: bool

    @property
    def bucket(self) -> int:
        """The histogram bar: the first upper bound not below the hours."""
        return bisect_left(HISTOGRAM_HOURS, self.hours)


@dataclass(frozen=True)
class RejectionRow:
    where: str  # "airport", "customs" or a recipient's code
    product: str
    reason: str
    quantity: int
    note: str


@dataclass(frozen=True)
class Deadline:
    stuck: m.Stuck
    stuck_from: datetime


@dataclass(frozen=True)
class Standing:
    shipment_id: str
    totals: Totals
    notices: tuple[NoticeRow, ...]
    lines: tuple[LineRow, ...]  # only when in the totals
    lead_times: tuple[LeadTime, ...]
    rejections: tuple[RejectionRow, ...]
    deadlines: tuple[Deadline, ...]


def counted(c: Consignment) -> bool:
    """Reporting can place it: announced, or at least seen at customs or allocation."""
    return bool(c.lines or c.parts or c.notices)


def in_totals(c: Consignment) -> bool:
    """Part of the donors', channels' and products' totals: something came, or may come."""
    return counted(c) and not (c.cancelled_at is not None and not c.parts)


def standing(c: Consignment) -> Standing:
    """Its totals, and its rows when reporting can place it (``counted``)."""
    if not counted(c):
        return Standing(c.shipment_id, _totals(c), (), (), (), (), ())
    return Standing(
        shipment_id=c.shipment_id,
        totals=_totals(c),
        notices=notice_rows(c),
        lines=_lines(c) if in_totals(c) else (),
        lead_times=_lead_times(c),
        rejections=rejections_of(c),
        deadlines=tuple(Deadline(s, stuck_from) for s, stuck_from in m.deadlines(c)),
    )


def _totals(c: Consignment) -> Totals:
    return Totals(
        counted=counted(c),
        in_totals=in_totals(c),
        donor=c.donor,
        channel=c.channel.value if c.channel else "",
        stage=m.stage_of(c),
        current_doses=m.current_doses(c),
        announced_doses=m.announced_doses(c),
        released_doses=m.released_doses(c),
        allocated_doses=m.allocated_doses(c),
        received_doses=m.received_doses(c),
    )


def product_of(c: Consignment, line_no: int) -> tuple[str, str]:
    """The product and unit of a line, or a placeholder while its announcement is unseen."""
    line = c.lines.get(line_no)
    return (line.product, line.unit.value) if line else (f"line {line_no}", "")


def notice_rows(c: Consignment) -> tuple[NoticeRow, ...]:
    rows = []
    for n in c.notices.values():
        product, unit = product_of(c, n.line_no)
        rows.append(
            NoticeRow(
                shipment_id=c.shipment_id,
                notice_number=n.notice_number,
                recipient=n.province_code,
                donor=c.donor,
                product=n.product or product,
                unit=n.unit.value if n.unit else unit,
                doses=n.unit is Unit.DOSES,
                quantity=n.quantity,
                accepted=n.accepted,
                allocated_at=n.allocated_at,
                acknowledged_at=n.acknowledged_at,
                dispatched_at=n.dispatched_at,
                received_at=n.received_at,
            )
        )
    return tuple(rows)


def _lines(c: Consignment) -> tuple[LineRow, ...]:
    return tuple(
        LineRow(
            product=line.product,
            category=line.category.value,
            unit=line.unit.value,
            announced=line.quantity,
            released=c.released.get(line_no, 0),
            allocated=sum(n.quantity for n in c.notices.values() if n.line_no == line_no),
            received=sum(n.accepted or 0 for n in c.notices.values() if n.line_no == line_no),
        )
        for line_no, line in c.lines.items()
    )


def _lead_times(c: Consignment) -> tuple[LeadTime, ...]:
    return tuple(
        LeadTime(step, d.total_seconds() / 3600, m.within_target(step, _start_of(c, step), d))
        for step, d in m.lead_times(c)
    )


def _start_of(c: Consignment, step: m.Step) -> datetime:
    if step is m.Step.AIRCRAFT_TO_RELEASE and c.first_arrival is not None:
        return c.first_arrival
    return c.released_at or datetime.min  # only same-day clearance looks at the start


def rejections_of(c: Consignment) -> tuple[RejectionRow, ...]:
    """Every rejection: at the airport (part by part), by customs, then by the recipients."""
    found = [r for p in sorted(c.parts) for r in c.parts[p].rejected]
    found += list(c.refusals)
    found += [r for n in sorted(c.notices) for r in c.notices[n].rejected]
    return tuple(_rejection(c, r) for r in found)


def _rejection(c: Consignment, r: Rejected) -> RejectionRow:
    return RejectionRow(r.where, product_of(c, r.line_no)[0], r.reason, r.quantity, r.note)
