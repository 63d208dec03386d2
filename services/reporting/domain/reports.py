"""Per donor and per province: what came, when, where it went, what was rejected. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel

from services.reporting.domain import measures as m
from services.reporting.domain.facts import Consignment
from services.reporting.domain.picture import (
    NationalRow,
    Population,
    ProvinceRow,
    national,
    provinces,
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


def _product(c: Consignment, line_no: int) -> tuple[str, str]:
    line = c.lines.get(line_no)
    return (line.product, line.unit.value) if line else (f"line {line_no}", "")


def _recipients(consignments: Sequence[Consignment]) -> list[RecipientReport]:
    allocated: Counter[tuple[str, str, str]] = Counter()
    received: Counter[tuple[str, str, str]] = Counter()
    for c in consignments:
        for n in c.notices.values():
            product, unit = _product(c, n.line_no)
            key = (n.province_code, n.product or product, n.unit.value if n.unit else unit)
            allocated[key] += n.quantity
            received[key] += n.accepted or 0
    return [
        RecipientReport(
            province_code=p, product=prod, unit=u, allocated=allocated[k], received=received[k]
        )
        for k in sorted(allocated)
        for p, prod, u in [k]
    ]


def _rejections(c: Consignment) -> list[RejectionReport]:
    found = [r for p in sorted(c.parts) for r in c.parts[p].rejected]
    found += list(c.refusals)
    found += [r for n in sorted(c.notices) for r in c.notices[n].rejected]
    return [
        RejectionReport(
            where=r.where,
            product=_product(c, r.line_no)[0],
            reason=r.reason,
            quantity=r.quantity,
            note=r.note,
        )
        for r in found
    ]


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
        recipients=_recipients([c]),
        rejections=_rejections(c),
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
        recipients=_recipients(dated),
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


def province_summary(
    consignments: Sequence[Consignment], population: Population, now: datetime
) -> ProvinceSummary:
    return ProvinceSummary(
        as_of=now,
        province=provinces(consignments, [population])[0],
        notices=_notices_to(consignments, population.code, now),
        rejections=_rejections_at(consignments, population.code),
    )


class RecipientSummary(BaseModel):
    """A national recipient's summary: the province's without the population figures."""

    as_of: datetime
    recipient: NationalRow
    notices: list[NoticeLine]
    rejections: list[RejectionReport]


def recipient_summary(
    consignments: Sequence[Consignment], recipient: NationalRecipient, now: datetime
) -> RecipientSummary:
    return RecipientSummary(
        as_of=now,
        recipient=national(consignments, [recipient])[0],
        notices=_notices_to(consignments, recipient.code, now),
        rejections=_rejections_at(consignments, recipient.code),
    )


def _notices_to(consignments: Sequence[Consignment], code: str, now: datetime) -> list[NoticeLine]:
    notices = [
        NoticeLine(
            notice_number=n.notice_number,
            shipment_id=c.shipment_id,
            donor=c.donor,
            product=n.product or _product(c, n.line_no)[0],
            unit=n.unit.value if n.unit else _product(c, n.line_no)[1],
            quantity=n.quantity,
            allocated_at=n.allocated_at,
            acknowledged_at=n.acknowledged_at,
            dispatched_at=n.dispatched_at,
            received_at=n.received_at,
            accepted=n.accepted,
        )
        for c in consignments
        for n in c.notices.values()
        if n.province_code == code
    ]
    return sorted(notices, key=lambda n: (n.allocated_at or now, n.notice_number))


def _rejections_at(consignments: Sequence[Consignment], code: str) -> list[RejectionReport]:
    return [r for c in consignments for r in _rejections(c) if r.where == code]
