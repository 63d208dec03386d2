"""Whole consignments as the events every service publishes: for reporting's tests.

``flow`` makes one consignment's events up to a stage, with the new steps (arrival parts,
VAR, release, drafted and approved rounds, dispatch, proof of delivery) or today's legacy
ones (ShipmentArrived.v1, GoodsPresented.v1, AllocationRoundDecided). ``envelopes`` gives
them as reporting's consumer receives them, through the wire format."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from services.reporting.domain.facts import Consignment
from services.reporting.domain.replay import Recorded, fold
from services.reporting.standing_rows import TABLES
from shared.contracts import allocation as a
from shared.contracts import customs as c
from shared.contracts import intake as i
from shared.contracts.base import DomainEvent, registry
from shared.contracts.values import (
    Category,
    Channel,
    CountedLot,
    LineItem,
    Lot,
    ReceivedLot,
    Rejection,
    RejectionReason,
    Storage,
    Unit,
)
from shared.envelope import Envelope, from_kafka, to_kafka
from shared.eventstore import RecordedEvent

T0 = datetime(2021, 8, 1, 1, 0, tzinfo=UTC)
STEPS = ("announced", "arrived", "released", "drafted", "approved", "dispatched", "received")


@dataclass(frozen=True)
class Published:
    source: str  # intake, customs or allocation
    event: DomainEvent
    recorded_at: datetime
    actor: str


def _line(doses: int) -> LineItem:
    expiry = date(2022, 1, 31)
    return LineItem(
        line_no=1,
        product="Vaxzevria (AstraZeneca)",
        category=Category.VACCINE,
        unit=Unit.DOSES,
        pack_size=10,
        quantity=doses,
        storage=Storage.COLD_2_8,
        lots=(Lot(lot_number="L1", expiry_date=expiry, quantity=doses),),
    )


def flow(
    shipment_id: uuid.UUID,
    donor: str = "COVAX",
    doses: int = 1000,
    until: str = "received",
    start: datetime = T0,
    provinces: tuple[str, ...] = ("01", "79"),
    rejected: int = 0,
    channel: Channel = Channel.COVAX,
    legacy: bool = False,
    var_filed: bool = True,
) -> list[Published]:
    """The consignment's events up to the step ``until`` (one of ``STEPS``), an hour apart."""
    line = _line(doses)
    out: list[Published] = []
    clock = [start]

    def emit(source: str, event: DomainEvent, actor: str) -> None:
        clock[0] += timedelta(hours=1)
        out.append(Published(source, event, clock[0], actor))

    def reached(step: str) -> bool:
        return STEPS.index(step) <= STEPS.index(until)

    sid = shipment_id
    emit(
        "intake",
        i.ShipmentAnnounced(
            shipment_id=sid, donor=donor, channel=channel, airport="HAN", flight="VN1",
            airway_bill=f"AWB-{str(sid)[:8]}", expected_arrival=start, consignee="NEPI",
            lines=(line,),
        ),
        "intake.han",
    )  # fmt: skip
    emit(
        "customs",
        c.ClearanceCaseOpened(
            shipment_id=sid, airport="HAN", donor=donor, channel=channel,
            airway_bill=f"AWB-{str(sid)[:8]}", expected_arrival=start, lines=(line,),
        ),
        "aidport/customs",
    )  # fmt: skip
    if not reached("arrived"):
        return out
    accepted = doses - rejected
    arrived_at = clock[0]
    if legacy:
        emit(
            "intake",
            i.ShipmentArrived(
                shipment_id=sid, airport="HAN", arrived_at=arrived_at,
                received=(ReceivedLot(line_no=1, lot_number="L1", quantity=doses),),
            ),
            "intake.han",
        )  # fmt: skip
        emit(
            "customs",
            c.GoodsPresented(
                shipment_id=sid, arrived_at=arrived_at,
                received=(ReceivedLot(line_no=1, lot_number="L1", quantity=doses),),
            ),
            "aidport/customs",
        )  # fmt: skip
    else:
        rejections = (
            (Rejection(reason=RejectionReason.DAMAGED, quantity=rejected, note="crushed"),)
            if rejected
            else ()
        )
        emit(
            "intake",
            i.ShipmentArrivedV2(
                shipment_id=sid, airport="HAN", part_no=1, flight="VN1", arrived_at=arrived_at,
                lots=(CountedLot(line_no=1, lot_number="L1", counted=doses, accepted=accepted,
                                 rejections=rejections),),
            ),
            "intake.han",
        )  # fmt: skip
        if var_filed:
            emit(
                "intake",
                i.ArrivalReportFiled(
                    shipment_id=sid, part_no=1, line_no=1, filed_at=clock[0],
                    inspected_by="Nguyen Van A",
                ),
                "intake.han",
            )  # fmt: skip
        emit(
            "customs",
            c.GoodsPresentedV2(
                shipment_id=sid, part_no=1, arrived_at=arrived_at,
                received=(ReceivedLot(line_no=1, lot_number="L1", quantity=accepted),),
            ),
            "aidport/customs",
        )  # fmt: skip
    if not reached("released"):
        return out
    released_line = line.model_copy(update={"quantity": accepted})
    if legacy:
        emit(
            "customs",
            c.ClearedFastTrack(
                shipment_id=sid, airport="HAN", donor=donor, declaration_number="104000000001",
                lane=c.Lane.GREEN, examination=c.Examination.NONE, cleared_at=clock[0],
                lines=(released_line,),
            ),
            "customs.han",
        )  # fmt: skip
    else:
        emit(
            "customs",
            c.GoodsReleased(
                shipment_id=sid, release_no=1, airport="HAN", donor=donor,
                declaration_number="104000000001", lane=c.Lane.GREEN, partial=False,
                released_by="customs.han", released_at=clock[0], lines=(released_line,),
            ),
            "customs.han",
        )  # fmt: skip
    released_at = clock[0]
    round_id = f"R-{sid.hex}"
    provinces = provinces[:accepted]  # a province gets a dose at least
    shares = _split(accepted, len(provinces))
    if not reached("drafted"):
        return out
    if legacy:
        emit(
            "allocation",
            a.AllocationRoundDecided(
                shipment_id=sid, round_id=round_id, policy="population", decided_at=clock[0],
                lines=(),
            ),
            "aidport/allocation",
        )  # fmt: skip
    else:
        emit(
            "allocation",
            a.AllocationRoundDrafted(
                shipment_id=sid, round_id=round_id, source=a.RoundSource.RELEASE, release_no=1,
                policy_id="population", policy_version=1, drafted_at=clock[0], lines=(),
            ),
            "aidport/allocation",
        )  # fmt: skip
        if not reached("approved"):
            return out
        emit(
            "allocation",
            a.RoundApproved(
                shipment_id=sid, round_id=round_id, decision_number="3400/QD-BYT",
                decision_date=clock[0].date(), approved_by="approver.moh",
                approved_at=clock[0], policy_id="population", policy_version=1,
            ),
            "approver.moh",
        )  # fmt: skip
    for province, share in zip(provinces, shares, strict=True):
        emit(
            "allocation",
            a.AllocatedToProvince(
                shipment_id=sid, notice_number=f"{round_id}-{province}-1", round_id=round_id,
                province_code=province, line_no=1, product=line.product, unit=Unit.DOSES,
                pack_size=10, quantity=share, packs=max(1, share // 10),
                lots=(Lot(lot_number="L1", expiry_date=date(2022, 1, 31), quantity=share),),
                released_at=released_at,
            ),
            "aidport/allocation",
        )  # fmt: skip
        emit(
            "allocation",
            a.NoticeAcknowledged(
                shipment_id=sid, notice_number=f"{round_id}-{province}-1",
                province_code=province, acknowledged_at=clock[0],
            ),
            f"province-{province}",
        )  # fmt: skip
    if not reached("dispatched"):
        return out
    for province, share in zip(provinces, shares, strict=True):
        number = f"{round_id}-{province}-1"
        lot = Lot(lot_number="L1", expiry_date=date(2022, 1, 31), quantity=share)
        emit(
            "allocation",
            a.NoticeDispatched(
                shipment_id=sid, notice_number=number, province_code=province, lots=(lot,),
                carrier="Viettel Post", dispatched_by="store.nepi", dispatched_at=clock[0],
            ),
            "store.nepi",
        )  # fmt: skip
        if reached("received"):
            short = 1 if share > 1 else 0
            emit(
                "allocation",
                a.NoticeReceived(
                    shipment_id=sid, notice_number=number, province_code=province,
                    lots=(CountedLot(
                        line_no=1, lot_number="L1", counted=share, accepted=share - short,
                        rejections=(Rejection(reason=RejectionReason.SHORT, quantity=short),)
                        if short else (),
                    ),),
                    with_discrepancies=bool(short), received_by=f"province-{province}",
                    received_at=clock[0],
                ),
                f"province-{province}",
            )  # fmt: skip
    return out


RECIPIENTS = ("01", "79", "31", "48", "MOD", "NEPI")


def many_flows(
    seed: int, count: int, recipients: Sequence[str] = RECIPIENTS, spread: tuple[int, int] = (1, 4)
) -> list[Published]:
    """``count`` consignments at every step, each to ``spread`` (fewest, most) recipients,
    some with rejections or late reports; each consignment's events in their own order."""
    rng = random.Random(seed)
    events: list[Published] = []
    for n in range(count):
        events += flow(
            uuid.UUID(int=seed * 1_000_000 + n + 1),
            donor=rng.choice(["COVAX", "Japan", "USA", "Việt kiều"]),
            doses=rng.randint(10, 500_000),
            until=rng.choice(STEPS),
            start=T0 + timedelta(hours=rng.randint(0, 400)),
            provinces=tuple(rng.sample(list(recipients), rng.randint(*spread))),
            rejected=rng.choice([0, 0, 3]),
            channel=rng.choice(list(Channel)),
            legacy=rng.random() < 0.2,
            var_filed=rng.random() < 0.7,
        )
    return events


def as_recorded(p: Published, n: int) -> RecordedEvent:
    """The event as its service's store would hold it, the ``n``-th."""
    return RecordedEvent(
        position=n,
        stream_id=str(p.event.shipment_id),
        stream_version=n,
        event_id=uuid.uuid4(),
        event_type=p.event.event_type,
        data=p.event.to_data(),
        metadata={"actor": p.actor, "actor_role": "test"},
        recorded_at=p.recorded_at,
    )


def envelopes(events: list[Published]) -> list[Envelope]:
    out = []
    for n, p in enumerate(events, start=1):
        record = to_kafka(as_recorded(p, n), f"aidport/{p.source}")
        out.append(from_kafka(record.headers, record.value, registry, record.key))
    return out


def _split(total: int, parts: int) -> list[int]:
    base = total // parts
    shares = [base] * parts
    shares[0] += total - base * parts
    return shares


async def stored(db: asyncpg.Connection | asyncpg.Pool) -> dict[str, list[dict[str, object]]]:
    """Everything reporting's projection stored: the facts and every standing table."""
    tables = ["report_consignments", *TABLES]
    return {
        t: [dict(r) for r in await db.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables
    }


async def folded_as_of(
    db: asyncpg.Connection | asyncpg.Pool, cutoff: datetime
) -> list[Consignment]:
    """Every consignment as reporting knew it at ``cutoff``, folded from every event kept up to
    then: what an ``as_of`` answer must equal, computed the slow and obvious way."""
    rows = await db.fetch(
        "SELECT subject, event_type, data, recorded_at FROM report_events"
        " WHERE recorded_at <= $1 ORDER BY recorded_at, seq",
        cutoff,
    )
    recorded = (
        Recorded(r["subject"], r["recorded_at"], registry.decode(r["event_type"], r["data"]))
        for r in rows
    )
    return sorted(fold(recorded).values(), key=lambda folded: folded.shipment_id)
