"""The national picture, computed from the folded consignments. Pure: the live view and the
``as_of`` replay both call these functions, with the consignments and the moment."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from services.reporting.domain import measures as m
from services.reporting.domain.facts import Consignment
from shared.contracts.values import Unit
from shared.reference_data import NationalRecipient

HISTOGRAM_HOURS: tuple[float, ...] = (1, 3, 6, 12, 24, 48, 72, 168, 336, float("inf"))
"""Upper bounds of the lead-time histograms, in hours."""


@dataclass(frozen=True)
class Population:
    code: str
    name_vi: str
    name_en: str
    population: int


class PipelineRow(BaseModel):
    stage: m.Stage
    consignments: int
    doses: int


class Bucket(BaseModel):
    le_hours: float | None  # None: no upper bound
    count: int


class Distribution(BaseModel):
    step: m.Step
    target: str
    count: int
    within_target: int
    p50_hours: float | None
    p90_hours: float | None
    buckets: list[Bucket]


class ProvinceRow(BaseModel):
    code: str
    name_vi: str
    name_en: str
    population: int
    allocated_doses: int
    received_doses: int
    basis: str  # "received" when any receipt is recorded there, else "allocated"
    doses_per_100: float


class NationalRow(BaseModel):
    """A national recipient (the army, the police, National EPI, ...): doses, no population."""

    code: str
    name_vi: str
    name_en: str
    allocated_doses: int
    received_doses: int


class TotalRow(BaseModel):
    key: str
    consignments: int
    announced_doses: int
    released_doses: int
    allocated_doses: int
    received_doses: int


class ProductRow(BaseModel):
    product: str
    category: str
    unit: str
    announced: int
    released: int
    allocated: int
    received: int


class StuckRow(BaseModel):
    kind: str
    shipment_id: str
    reference: str
    since: datetime
    detail: str


class Dashboard(BaseModel):
    as_of: datetime
    replayed: bool
    pipeline: list[PipelineRow]
    lead_times: list[Distribution]
    provinces: list[ProvinceRow]
    national: list[NationalRow] = []
    donors: list[TotalRow]
    channels: list[TotalRow]
    products: list[ProductRow]
    stuck: list[StuckRow]


TARGETS = {
    m.Step.AIRCRAFT_TO_RELEASE: "same day",
    m.Step.RELEASE_TO_APPROVED_NOTICE: "7 days",
    m.Step.NOTICE_TO_RECEIPT: "7 days",
    m.Step.RELEASE_TO_RECEIPT: "7 days",
}


def counted(consignments: Iterable[Consignment]) -> list[Consignment]:
    """Consignments reporting can place: announced, or at least seen at customs."""
    return [c for c in consignments if c.lines or c.parts or c.notices]


def pipeline(consignments: Sequence[Consignment]) -> list[PipelineRow]:
    counts: Counter[m.Stage] = Counter()
    doses: Counter[m.Stage] = Counter()
    for c in consignments:
        stage = m.stage_of(c)
        counts[stage] += 1
        doses[stage] += m.current_doses(c)
    return [PipelineRow(stage=s, consignments=counts[s], doses=doses[s]) for s in m.Stage]


def percentile(sorted_values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * share // 1))
    return sorted_values[int(rank) - 1]


def _distribution(step: m.Step, samples: list[tuple[datetime, timedelta]]) -> Distribution:
    hours = sorted(d.total_seconds() / 3600 for _, d in samples)
    buckets = [
        Bucket(
            le_hours=None if edge == float("inf") else edge,
            count=sum(1 for h in hours if h <= edge and (k == 0 or h > HISTOGRAM_HOURS[k - 1])),
        )
        for k, edge in enumerate(HISTOGRAM_HOURS)
    ]
    return Distribution(
        step=step,
        target=TARGETS[step],
        count=len(hours),
        within_target=sum(1 for start, d in samples if m.within_target(step, start, d)),
        p50_hours=percentile(hours, 0.5),
        p90_hours=percentile(hours, 0.9),
        buckets=buckets,
    )


def lead_times(consignments: Sequence[Consignment]) -> list[Distribution]:
    samples: dict[m.Step, list[tuple[datetime, timedelta]]] = defaultdict(list)
    for c in consignments:
        for step, duration in m.lead_times(c):
            samples[step].append((_start_of(c, step, duration), duration))
    return [_distribution(step, samples[step]) for step in m.Step]


def _start_of(c: Consignment, step: m.Step, duration: timedelta) -> datetime:
    if step is m.Step.AIRCRAFT_TO_RELEASE and c.first_arrival is not None:
        return c.first_arrival
    return c.released_at or datetime.min  # only same-day clearance looks at the start


def provinces(
    consignments: Sequence[Consignment], populations: Sequence[Population]
) -> list[ProvinceRow]:
    allocated: Counter[str] = Counter()
    received: Counter[str] = Counter()
    receipts: set[str] = set()
    for c in consignments:
        for n in c.notices.values():
            if n.unit is not Unit.DOSES:
                continue
            allocated[n.province_code] += n.quantity
            if n.received_at is not None:
                receipts.add(n.province_code)
                received[n.province_code] += n.accepted or 0
    rows = []
    for p in populations:
        basis = "received" if p.code in receipts else "allocated"
        doses = received[p.code] if basis == "received" else allocated[p.code]
        rows.append(
            ProvinceRow(
                code=p.code,
                name_vi=p.name_vi,
                name_en=p.name_en,
                population=p.population,
                allocated_doses=allocated[p.code],
                received_doses=received[p.code],
                basis=basis,
                doses_per_100=round(doses * 100 / p.population, 3) if p.population else 0.0,
            )
        )
    return rows


def national(
    consignments: Sequence[Consignment], recipients: Sequence[NationalRecipient]
) -> list[NationalRow]:
    """Doses allocated to and received by each national recipient."""
    allocated: Counter[str] = Counter()
    received: Counter[str] = Counter()
    for c in consignments:
        for n in c.notices.values():
            if n.unit is Unit.DOSES:
                allocated[n.province_code] += n.quantity
                received[n.province_code] += n.accepted or 0
    return [
        NationalRow(
            code=r.code,
            name_vi=r.name_vi,
            name_en=r.name_en,
            allocated_doses=allocated[r.code],
            received_doses=received[r.code],
        )
        for r in recipients
    ]


def _totals(consignments: Sequence[Consignment], key: str) -> list[TotalRow]:
    rows: dict[str, TotalRow] = {}
    for c in consignments:
        if c.cancelled_at is not None and not c.parts:
            continue  # nothing came: not part of any total
        name = c.donor if key == "donor" else (c.channel.value if c.channel else "")
        row = rows.get(name) or TotalRow(
            key=name,
            consignments=0,
            announced_doses=0,
            released_doses=0,
            allocated_doses=0,
            received_doses=0,
        )
        rows[name] = row.model_copy(
            update={
                "consignments": row.consignments + 1,
                "announced_doses": row.announced_doses + m.announced_doses(c),
                "released_doses": row.released_doses + m.released_doses(c),
                "allocated_doses": row.allocated_doses + m.allocated_doses(c),
                "received_doses": row.received_doses + m.received_doses(c),
            }
        )
    return sorted(rows.values(), key=lambda r: (-r.announced_doses, r.key))


def donors(consignments: Sequence[Consignment]) -> list[TotalRow]:
    return _totals(consignments, "donor")


def channels(consignments: Sequence[Consignment]) -> list[TotalRow]:
    return _totals(consignments, "channel")


def products(consignments: Sequence[Consignment]) -> list[ProductRow]:
    table: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for c in consignments:
        if c.cancelled_at is not None and not c.parts:
            continue
        for line_no, line in c.lines.items():
            counts = table[(line.product, line.category.value, line.unit.value)]
            counts["announced"] += line.quantity
            counts["released"] += c.released.get(line_no, 0)
            for n in c.notices.values():
                if n.line_no == line_no:
                    counts["allocated"] += n.quantity
                    counts["received"] += n.accepted or 0
    return [
        ProductRow(product=p, category=cat, unit=u, **{k: v[k] for k in _PRODUCT_COUNTS})
        for (p, cat, u), v in sorted(table.items())
    ]


_PRODUCT_COUNTS = ("announced", "released", "allocated", "received")


def stuck(consignments: Sequence[Consignment], now: datetime) -> list[StuckRow]:
    rows = [
        StuckRow(
            kind=s.kind,
            shipment_id=s.shipment_id,
            reference=s.reference,
            since=s.since,
            detail=s.detail,
        )
        for c in consignments
        for s in m.stuck(c, now)
    ]
    return sorted(rows, key=lambda r: (r.since, r.kind, r.reference))


def dashboard(
    consignments: Iterable[Consignment],
    populations: Sequence[Population],
    now: datetime,
    replayed: bool,
    recipients: Sequence[NationalRecipient] = (),
) -> Dashboard:
    """The whole national picture at ``now`` (``replayed``: rebuilt for ``as_of``), with the
    national ``recipients``' doses beside the provinces'."""
    known = sorted(counted(consignments), key=lambda c: c.shipment_id)
    return Dashboard(
        as_of=now,
        replayed=replayed,
        pipeline=pipeline(known),
        lead_times=lead_times(known),
        provinces=provinces(known, populations),
        national=national(known, recipients),
        donors=donors(known),
        channels=channels(known),
        products=products(known),
        stuck=stuck(known, now),
    )
