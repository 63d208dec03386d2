"""The national picture: the standings of the consignments added up (``Tally``), then laid
out (``dashboard_from``). Pure. The live view adds the stored standings up in SQL
(``queries.live_tally``); an ``as_of`` replay adds up those of the refolded consignments
here (``tally``), with the same result for the same consignments."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from services.reporting.domain import measures as m
from services.reporting.domain.facts import Consignment
from services.reporting.domain.standing import (
    HISTOGRAM_HOURS,
    LeadTime,
    Standing,
    counted,
    standing,
)
from shared.reference_data import NationalRecipient


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


STUCK_LISTED = 1000
"""The oldest stuck items a dashboard lists (a backlog can hold a hundred thousand of
them); how many there are is counted, and the CSV and XLSX exports list them all."""


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
    stuck: list[StuckRow] = Field(description=f"the oldest stuck items, {STUCK_LISTED:,} at most")
    stuck_total: int = Field(0, description="how many items are stuck (the export lists all)")


TARGETS = {
    m.Step.AIRCRAFT_TO_RELEASE: "same day",
    m.Step.RELEASE_TO_APPROVED_NOTICE: "7 days",
    m.Step.NOTICE_TO_RECEIPT: "7 days",
    m.Step.RELEASE_TO_RECEIPT: "7 days",
}


@dataclass(frozen=True)
class StepTally:
    """A step's lead times added up: nearest-rank percentiles and a count per histogram bar."""

    count: int
    within_target: int
    p50_hours: float | None
    p90_hours: float | None
    bars: Mapping[int, int]  # index into HISTOGRAM_HOURS -> lead times


@dataclass(frozen=True)
class RecipientTally:
    """Doses allocated to one recipient, received (all, and where a receipt is recorded)."""

    allocated: int = 0
    accepted: int = 0
    received_on_receipt: int = 0
    any_receipt: bool = False


@dataclass(frozen=True)
class Tally:
    stages: Mapping[m.Stage, tuple[int, int]]  # consignments, doses
    steps: Mapping[m.Step, StepTally]
    recipients: Mapping[str, RecipientTally]
    totals: Sequence[tuple[str, str, TotalRow]]  # (donor, channel, their totals)
    products: Sequence[ProductRow]
    stuck: Sequence[StuckRow]  # the oldest first, at most the limit asked for
    stuck_total: int


def standings(consignments: Iterable[Consignment]) -> list[Standing]:
    """The standings of the consignments reporting can place, in shipment order."""
    return sorted((standing(c) for c in consignments if counted(c)), key=lambda s: s.shipment_id)


def tally(
    known: Sequence[Standing], now: datetime, stuck_limit: int | None = STUCK_LISTED
) -> Tally:
    """Everything added up; of the stuck items, the oldest ``stuck_limit`` (None: all)."""
    stuck = stuck_in_order(
        (s.shipment_id, n, d.stuck)
        for s in known
        for n, d in enumerate(s.deadlines)
        if now >= d.stuck_from
    )
    return Tally(
        stages=_stages(known),
        steps=_steps(known),
        recipients=recipient_tallies(known),
        totals=_totals(known),
        products=_products(known),
        stuck=stuck[:stuck_limit],
        stuck_total=len(stuck),
    )


def _stages(known: Sequence[Standing]) -> dict[m.Stage, tuple[int, int]]:
    counts: Counter[m.Stage] = Counter()
    doses: Counter[m.Stage] = Counter()
    for s in known:
        counts[s.totals.stage] += 1
        doses[s.totals.stage] += s.totals.current_doses
    return {stage: (counts[stage], doses[stage]) for stage in counts}


def percentile(sorted_values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile of already sorted values (PostgreSQL's ``percentile_disc``)."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * share // 1))
    return sorted_values[int(rank) - 1]


def _steps(known: Sequence[Standing]) -> dict[m.Step, StepTally]:
    found: dict[m.Step, list[LeadTime]] = defaultdict(list)
    for s in known:
        for lead in s.lead_times:
            found[lead.step].append(lead)
    steps = {}
    for step, leads in found.items():
        hours = sorted(lead.hours for lead in leads)
        steps[step] = StepTally(
            count=len(hours),
            within_target=sum(1 for lead in leads if lead.within_target),
            p50_hours=percentile(hours, 0.5),
            p90_hours=percentile(hours, 0.9),
            bars=Counter(lead.bucket for lead in leads),
        )
    return steps


def recipient_tallies(known: Iterable[Standing]) -> dict[str, RecipientTally]:
    tallies: dict[str, RecipientTally] = {}
    for n in (n for s in known for n in s.notices if n.doses):
        t = tallies.get(n.recipient, RecipientTally())
        received = n.received_at is not None
        tallies[n.recipient] = RecipientTally(
            allocated=t.allocated + n.quantity,
            accepted=t.accepted + (n.accepted or 0),
            received_on_receipt=t.received_on_receipt + ((n.accepted or 0) if received else 0),
            any_receipt=t.any_receipt or received,
        )
    return tallies


def _totals(known: Sequence[Standing]) -> list[tuple[str, str, TotalRow]]:
    rows: dict[tuple[str, str], TotalRow] = {}
    for t in (s.totals for s in known if s.totals.in_totals):
        key = (t.donor, t.channel)
        rows[key] = add_totals(
            rows.get(key),
            TotalRow(
                key="",
                consignments=1,
                announced_doses=t.announced_doses,
                released_doses=t.released_doses,
                allocated_doses=t.allocated_doses,
                received_doses=t.received_doses,
            ),
        )
    return [(donor, channel, row) for (donor, channel), row in rows.items()]


def add_totals(a: TotalRow | None, b: TotalRow) -> TotalRow:
    if a is None:
        return b
    return TotalRow(
        key=a.key,
        consignments=a.consignments + b.consignments,
        announced_doses=a.announced_doses + b.announced_doses,
        released_doses=a.released_doses + b.released_doses,
        allocated_doses=a.allocated_doses + b.allocated_doses,
        received_doses=a.received_doses + b.received_doses,
    )


def _products(known: Sequence[Standing]) -> list[ProductRow]:
    table: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for line in (line for s in known for line in s.lines):
        counts = table[(line.product, line.category, line.unit)]
        for name in PRODUCT_COUNTS:
            counts[name] += getattr(line, name)
    return products_in_order(
        ProductRow(product=p, category=cat, unit=u, **{k: v[k] for k in PRODUCT_COUNTS})
        for (p, cat, u), v in table.items()
    )


PRODUCT_COUNTS = ("announced", "released", "allocated", "received")


def products_in_order(rows: Iterable[ProductRow]) -> list[ProductRow]:
    return sorted(rows, key=lambda r: (r.product, r.category, r.unit))


def stuck_in_order(found: Iterable[tuple[str, int, m.Stuck]]) -> list[StuckRow]:
    """Oldest first; ties in shipment order, then in each consignment's own order."""
    ordered = sorted(found, key=lambda f: (f[2].since, f[2].kind, f[2].reference, f[0], f[1]))
    return [
        StuckRow(
            kind=s.kind,
            shipment_id=s.shipment_id,
            reference=s.reference,
            since=s.since,
            detail=s.detail,
        )
        for _, _, s in ordered
    ]


# Laid out: the same from either tally.


def pipeline(t: Tally) -> list[PipelineRow]:
    rows = []
    for stage in m.Stage:
        consignments, doses = t.stages.get(stage, (0, 0))
        rows.append(PipelineRow(stage=stage, consignments=consignments, doses=doses))
    return rows


def lead_times(t: Tally) -> list[Distribution]:
    return [_distribution(step, t.steps.get(step)) for step in m.Step]


def _distribution(step: m.Step, s: StepTally | None) -> Distribution:
    s = s or StepTally(0, 0, None, None, {})
    bars = [
        Bucket(le_hours=None if edge == float("inf") else edge, count=s.bars.get(k, 0))
        for k, edge in enumerate(HISTOGRAM_HOURS)
    ]
    return Distribution(
        step=step,
        target=TARGETS[step],
        count=s.count,
        within_target=s.within_target,
        p50_hours=s.p50_hours,
        p90_hours=s.p90_hours,
        buckets=bars,
    )


def provinces(
    recipients: Mapping[str, RecipientTally], populations: Sequence[Population]
) -> list[ProvinceRow]:
    rows = []
    for p in populations:
        t = recipients.get(p.code, RecipientTally())
        basis = "received" if t.any_receipt else "allocated"
        doses = t.received_on_receipt if t.any_receipt else t.allocated
        rows.append(
            ProvinceRow(
                code=p.code,
                name_vi=p.name_vi,
                name_en=p.name_en,
                population=p.population,
                allocated_doses=t.allocated,
                received_doses=t.received_on_receipt,
                basis=basis,
                doses_per_100=round(doses * 100 / p.population, 3) if p.population else 0.0,
            )
        )
    return rows


def national(
    tallies: Mapping[str, RecipientTally], recipients: Sequence[NationalRecipient]
) -> list[NationalRow]:
    """Doses allocated to and received by each national recipient."""
    return [
        NationalRow(
            code=r.code,
            name_vi=r.name_vi,
            name_en=r.name_en,
            allocated_doses=tallies.get(r.code, RecipientTally()).allocated,
            received_doses=tallies.get(r.code, RecipientTally()).accepted,
        )
        for r in recipients
    ]


def donors(t: Tally) -> list[TotalRow]:
    return _by(t, lambda donor, _: donor)


def channels(t: Tally) -> list[TotalRow]:
    return _by(t, lambda _, channel: channel)


def _by(t: Tally, key: Callable[[str, str], str]) -> list[TotalRow]:
    rows: dict[str, TotalRow] = {}
    for donor, channel, totals in t.totals:
        name = key(donor, channel)
        rows[name] = add_totals(rows.get(name), totals.model_copy(update={"key": name}))
    return sorted(rows.values(), key=lambda r: (-r.announced_doses, r.key))


def dashboard_from(
    t: Tally,
    populations: Sequence[Population],
    now: datetime,
    replayed: bool,
    recipients: Sequence[NationalRecipient] = (),
) -> Dashboard:
    """The whole national picture at ``now`` (``replayed``: rebuilt for ``as_of``), with the
    national ``recipients``' doses beside the provinces'."""
    return Dashboard(
        as_of=now,
        replayed=replayed,
        pipeline=pipeline(t),
        lead_times=lead_times(t),
        provinces=provinces(t.recipients, populations),
        national=national(t.recipients, recipients),
        donors=donors(t),
        channels=channels(t),
        products=list(t.products),
        stuck=list(t.stuck),
        stuck_total=t.stuck_total,
    )


def dashboard(
    consignments: Iterable[Consignment],
    populations: Sequence[Population],
    now: datetime,
    replayed: bool,
    recipients: Sequence[NationalRecipient] = (),
) -> Dashboard:
    """The picture of these consignments (an ``as_of`` replay's), added up here."""
    return dashboard_from(
        tally(standings(consignments), now), populations, now, replayed, recipients
    )
