"""Per donor and per province: what came, when, where it went, what was rejected. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from pydantic import BaseModel

from services.reporting.domain import measures as m
from services.reporting.domain.facts import Consignment
from services.reporting.domain.picture import (
    NationalRow,
    Population,
    ProvinceRow,
    RecipientTally,
    national,
    provinces,
    recipient_tallies,
    standings,
)
from services.reporting.domain.standing import (
    NoticeRow,
    RejectionRow,
    Standing,
    notice_rows,
    rejections_of,
)
from shared.decider import NotFound
from shared.reference_data import NationalRecipient


class LineReport(BaseModel):
    line_no: int
    product: str
    unit: str
    announced: int
    accepted: int
    released: int


class RecipientReport(BaseModel):
    province_code: str
    product: str
    unit: str
    allocated: int
    received: int


class RejectionReport(BaseModel):
    where: str
    product: str
    reason: str
    quantity: int
    note: str


class ConsignmentReport(BaseModel):
    shipment_id: str
    airway_bill: str
    flight: str
    airport: str
    channel: str
    stage: m.Stage
    announced_at: datetime | None
    arrived_at: datetime | None
    released_at: datetime | None
    lines: list[LineReport]
    recipients: list[RecipientReport]
    rejections: list[RejectionReport]


class DonorReport(BaseModel):
    donor: str
    as_of: datetime
    consignments: list[ConsignmentReport]
    recipients: list[RecipientReport]  # all consignments together
    announced_doses: int
    received_doses: int


def _recipients(notices: Iterable[NoticeRow]) -> list[RecipientReport]:
    allocated: Counter[tuple[str, str, str]] = Counter()
    received: Counter[tuple[str, str, str]] = Counter()
    for n in notices:
        key = (n.recipient, n.product, n.unit)
        allocated[key] += n.quantity
        received[key] += n.accepted or 0
    return [
        RecipientReport(
            province_code=p, product=prod, unit=u, allocated=allocated[k], received=received[k]
        )
        for k in sorted(allocated)
        for p, prod, u in [k]
    ]


def _rejections(rows: Iterable[RejectionRow]) -> list[RejectionReport]:
    return [RejectionReport(**asdict(r)) for r in rows]


def consignment_report(c: Consignment) -> ConsignmentReport:
    accepted: Counter[int] = Counter()
    for part in c.parts.values():
        accepted.update(part.accepted)
    return ConsignmentReport(
        shipment_id=c.shipment_id,
        airway_bill=c.airway_bill,
        flight=c.flight,
        airport=c.airport,
        channel=c.channel.value if c.channel else "",
        stage=m.stage_of(c),
        announced_at=c.announced_at,
        arrived_at=c.first_arrival,
        released_at=c.released_at,
        lines=[
            LineReport(
                line_no=n,
                product=line.product,
                unit=line.unit.value,
                announced=line.quantity,
                accepted=accepted[n],
                released=c.released.get(n, 0),
            )
            for n, line in sorted(c.lines.items())
        ],
        recipients=_recipients(notice_rows(c)),
        rejections=_rejections(rejections_of(c)),
    )


def donor_names(consignments: Sequence[Consignment]) -> list[str]:
    return sorted({c.donor for c in consignments if c.donor})


def donor_report(
    consignments: Sequence[Consignment],
    donor: str,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> DonorReport:
    """What ``donor`` gave, announced between ``since`` and ``until`` when given."""
    mine = [c for c in consignments if c.donor == donor]
    if not mine:
        raise NotFound(
            f"no consignment from donor {donor!r}", field="donor", code="donor-not-found"
        )
    dated = [c for c in mine if _within(c.announced_at or c.first_arrival, since, until)]
    dated.sort(key=lambda c: (c.announced_at or c.first_arrival or now, c.shipment_id))
    return DonorReport(
        donor=donor,
        as_of=now,
        consignments=[consignment_report(c) for c in dated],
        recipients=_recipients(n for c in dated for n in notice_rows(c)),
        announced_doses=sum(m.announced_doses(c) for c in dated),
        received_doses=sum(m.received_doses(c) for c in dated),
    )


def _within(moment: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if moment is None:
        return since is None and until is None
    return (since is None or moment >= since) and (until is None or moment <= until)


class NoticeLine(BaseModel):
    notice_number: str
    shipment_id: str
    donor: str
    product: str
    unit: str
    quantity: int
    allocated_at: datetime | None
    acknowledged_at: datetime | None
    dispatched_at: datetime | None
    received_at: datetime | None
    accepted: int | None


class ProvinceSummary(BaseModel):
    as_of: datetime
    province: ProvinceRow
    notices: list[NoticeLine]
    rejections: list[RejectionReport]


class RecipientSummary(BaseModel):
    """A national recipient's summary: the province's without the population figures."""

    as_of: datetime
    recipient: NationalRow
    notices: list[NoticeLine]
    rejections: list[RejectionReport]


@dataclass(frozen=True)
class RecipientPart:
    """What one recipient got: its doses added up, its notices, the rejections it made (in
    shipment order). Read from the stored standings live, or picked from replayed ones."""

    tally: RecipientTally
    notices: Sequence[NoticeRow]
    rejections: Sequence[RejectionRow]


def recipient_part(known: Sequence[Standing], code: str) -> RecipientPart:
    return RecipientPart(
        tally=recipient_tallies(known).get(code, RecipientTally()),
        notices=[n for s in known for n in s.notices if n.recipient == code],
        rejections=[r for s in known for r in s.rejections if r.where == code],
    )


def province_summary_from(
    part: RecipientPart, population: Population, now: datetime
) -> ProvinceSummary:
    return ProvinceSummary(
        as_of=now,
        province=provinces({population.code: part.tally}, [population])[0],
        notices=_notice_lines(part.notices, now),
        rejections=_rejections(part.rejections),
    )


def recipient_summary_from(
    part: RecipientPart, recipient: NationalRecipient, now: datetime
) -> RecipientSummary:
    return RecipientSummary(
        as_of=now,
        recipient=national({recipient.code: part.tally}, [recipient])[0],
        notices=_notice_lines(part.notices, now),
        rejections=_rejections(part.rejections),
    )


def province_summary(
    consignments: Sequence[Consignment], population: Population, now: datetime
) -> ProvinceSummary:
    part = recipient_part(standings(consignments), population.code)
    return province_summary_from(part, population, now)


def recipient_summary(
    consignments: Sequence[Consignment], recipient: NationalRecipient, now: datetime
) -> RecipientSummary:
    part = recipient_part(standings(consignments), recipient.code)
    return recipient_summary_from(part, recipient, now)


def _notice_lines(notices: Iterable[NoticeRow], now: datetime) -> list[NoticeLine]:
    ordered = sorted(notices, key=lambda n: (n.allocated_at or now, n.notice_number, n.shipment_id))
    return [
        NoticeLine(
            notice_number=n.notice_number,
            shipment_id=n.shipment_id,
            donor=n.donor,
            product=n.product,
            unit=n.unit,
            quantity=n.quantity,
            allocated_at=n.allocated_at,
            acknowledged_at=n.acknowledged_at,
            dispatched_at=n.dispatched_at,
            received_at=n.received_at,
            accepted=n.accepted,
        )
        for n in ordered
    ]
