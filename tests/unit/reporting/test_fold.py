"""Reporting's pure fold: stages, doses, lead times, stuck items, and the replay behind
``as_of`` giving the same picture as the live, incrementally folded facts."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.reporting.domain import picture, reports
from services.reporting.domain.facts import Consignment, evolve, new_consignment
from services.reporting.domain.measures import Stage, Step, stage_of
from services.reporting.domain.picture import Population
from services.reporting.domain.replay import Recorded, fold, parse_as_of
from shared.contracts import customs as c
from shared.contracts import intake as i
from shared.contracts.base import registry
from shared.contracts.values import Channel
from shared.decider import InvalidInput, NotFound
from tests.reporting_events import STEPS, T0, Published, flow

POPULATIONS = [
    Population("01", "Hà Nội", "Ha Noi", 8_000_000),
    Population("79", "HCM", "HCMC", 9_000_000),
]
LATER = T0 + timedelta(days=30)


def tally_of(consignments: Iterable[Consignment], now: datetime = LATER) -> picture.Tally:
    return picture.tally(picture.standings(consignments), now)


def recorded(events: list[Published]) -> list[Recorded]:
    return [Recorded(str(p.event.shipment_id), p.recorded_at, p.event) for p in events]


def live(events: list[Published]) -> dict[str, Consignment]:
    """As the consumer folds: one event at a time, through the stored JSON each time."""
    stored: dict[str, dict[str, object]] = {}
    for p in events:
        key = str(p.event.shipment_id)
        before = Consignment.model_validate(stored[key]) if key in stored else new_consignment(key)
        stored[key] = evolve(before, p.event, p.recorded_at).model_dump(mode="json")
    return {k: Consignment.model_validate(v) for k, v in stored.items()}


def interleave(events: list[Published], seed: int) -> list[Published]:
    """Another order a reader of three topics may see: each service's own order kept."""
    queues = {s: [p for p in events if p.source == s] for s in ("intake", "customs", "allocation")}
    rng = random.Random(seed)
    out: list[Published] = []
    while any(queues.values()):
        source = rng.choice([s for s, q in queues.items() if q])
        out.append(queues[source].pop(0))
    return out


consignment = st.builds(
    lambda n, donor, doses, until, rejected, legacy, channel: flow(
        uuid.UUID(int=n),
        donor,
        doses,
        until,
        rejected=min(rejected, doses - 2),
        legacy=legacy,
        channel=channel,
    ),
    st.integers(1, 2**64),
    st.sampled_from(["COVAX", "Japan", "USA", "Vingroup"]),
    st.integers(2, 5_000_000),
    st.sampled_from(STEPS),
    st.integers(0, 1000),
    st.booleans(),
    st.sampled_from(list(Channel)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(consignment, min_size=1, max_size=6, unique_by=lambda f: f[0].event.shipment_id))
def test_doses_by_donor_add_up_to_the_announced_doses(flows: list[list[Published]]) -> None:
    state = fold(recorded([p for f in flows for p in f]))
    donors = picture.donors(tally_of(state.values()))
    announced = sum(f[0].event.lines[0].quantity for f in flows)  # type: ignore[attr-defined]
    assert sum(d.announced_doses for d in donors) == announced
    assert sum(d.consignments for d in donors) == len(flows)


@settings(max_examples=40, deadline=None)
@given(st.lists(consignment, min_size=1, max_size=6, unique_by=lambda f: f[0].event.shipment_id))
def test_every_consignment_is_in_exactly_one_stage(flows: list[list[Published]]) -> None:
    state = fold(recorded([p for f in flows for p in f]))
    rows = picture.pipeline(tally_of(state.values()))
    assert sum(r.consignments for r in rows) == len(flows)
    assert sum(r.doses for r in rows) == sum(picture.m.current_doses(c) for c in state.values())


@settings(max_examples=40, deadline=None)
@given(
    st.lists(consignment, min_size=1, max_size=4, unique_by=lambda f: f[0].event.shipment_id),
    st.integers(0, 1000),
)
def test_the_replay_equals_the_live_facts_in_any_order_of_the_topics(
    flows: list[list[Published]], seed: int
) -> None:
    events = [p for f in flows for p in f]
    consumed = interleave(events, seed)  # what the live consumer saw
    by_time = sorted(consumed, key=lambda p: p.recorded_at)  # what as_of replays
    assert live(consumed) == fold(recorded(by_time))
    now = LATER
    live_view = picture.dashboard(live(consumed).values(), POPULATIONS, now, replayed=False)
    replayed = picture.dashboard(fold(recorded(by_time)).values(), POPULATIONS, now, True)
    assert live_view.model_dump(exclude={"replayed"}) == replayed.model_dump(exclude={"replayed"})


@pytest.mark.parametrize("until", STEPS)
def test_the_stage_follows_the_last_step(until: str) -> None:
    events = flow(uuid.uuid4(), until=until)
    c = next(iter(fold(recorded(events)).values()))
    expected = {
        "announced": Stage.ANNOUNCED,
        "arrived": Stage.ARRIVED,
        "released": Stage.RELEASED,
        "drafted": Stage.ALLOCATED_DRAFT,
        "approved": Stage.ALLOCATED_APPROVED,
        "dispatched": Stage.DISPATCHED,
        "received": Stage.RECEIVED,
    }
    assert stage_of(c) is expected[until]


def test_legacy_events_are_read_through_their_upcasters() -> None:
    events = flow(uuid.uuid4(), doses=1000, until="received", legacy=True)
    decoded = [
        Recorded(
            str(p.event.shipment_id),
            p.recorded_at,
            registry.decode(p.event.event_type, p.event.to_data()),
        )
        for p in events
    ]
    assert any(p.event.event_type.endswith("ShipmentArrived.v1") for p in events)
    assert any(p.event.event_type.endswith("GoodsPresented.v1") for p in events)
    c = next(iter(fold(decoded).values()))
    assert c.parts[1].accepted == {1: 1000}
    assert stage_of(c) is Stage.RECEIVED
    assert next(iter(c.rounds.values())).approved_at is not None


def test_lead_times_and_their_targets() -> None:
    view = picture.dashboard(
        fold(recorded(flow(uuid.uuid4(), doses=1000))).values(), POPULATIONS, LATER, False
    )
    steps = {d.step: d for d in view.lead_times}
    clearance = steps[Step.AIRCRAFT_TO_RELEASE]
    assert clearance.count == 1 and clearance.within_target == 1
    assert clearance.p50_hours == clearance.p90_hours == 3.0  # arrival, VAR, presented, release
    assert sum(b.count for b in clearance.buckets) == 1
    assert steps[Step.NOTICE_TO_RECEIPT].count == 2
    assert steps[Step.RELEASE_TO_RECEIPT].within_target == 2


def test_provinces_show_received_doses_per_100_inhabitants_or_say_allocated() -> None:
    received = fold(recorded(flow(uuid.uuid4(), doses=1000, provinces=("01",))))
    allocated = fold(recorded(flow(uuid.uuid4(), doses=900, provinces=("79",), until="approved")))
    rows = {
        r.code: r
        for r in picture.provinces(
            tally_of([*received.values(), *allocated.values()]).recipients, POPULATIONS
        )
    }
    assert rows["01"].basis == "received" and rows["01"].received_doses == 999
    assert rows["01"].doses_per_100 == round(999 * 100 / 8_000_000, 3)
    assert rows["79"].basis == "allocated" and rows["79"].allocated_doses == 900
    assert rows["79"].doses_per_100 == 0.01


def test_stuck_items_past_their_targets() -> None:
    sid = uuid.uuid4()
    waiting = fold(recorded(flow(sid, until="arrived", var_filed=False)))
    c = waiting[str(sid)]
    kinds = {s.kind for s in tally_of([c], T0 + timedelta(days=4)).stuck}
    assert kinds == {"clearance_over_target", "arrival_report_overdue"}
    assert tally_of([c], T0 + timedelta(hours=4)).stuck == []
    notices = fold(recorded(flow(uuid.uuid4(), until="approved")))
    late = tally_of(notices.values(), T0 + timedelta(days=9)).stuck
    assert [s.kind for s in late] == ["notice_not_received", "notice_not_received"]


def test_the_donor_report_says_where_it_went_and_what_was_rejected() -> None:
    sid = uuid.uuid4()
    state = fold(recorded(flow(sid, donor="Japan", doses=1000, rejected=10)))
    report = reports.donor_report(list(state.values()), "Japan", LATER)
    (one,) = report.consignments
    assert one.lines[0].announced == 1000 and one.lines[0].accepted == 990
    assert {r.province_code: r.allocated for r in report.recipients} == {"01": 495, "79": 495}
    reasons = {(r.where, r.reason, r.quantity) for r in one.rejections}
    assert reasons == {("airport", "damaged", 10), ("01", "short", 1), ("79", "short", 1)}
    with pytest.raises(NotFound):
        reports.donor_report(list(state.values()), "Nobody", LATER)


def test_as_of_reads_dates_as_whole_days_in_viet_nam_and_refuses_the_rest() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    end_of_day = parse_as_of("2021-08-01", now)
    assert end_of_day == datetime(2021, 8, 1, 16, 59, 59, 999999, tzinfo=UTC)
    assert parse_as_of("2021-08-01T12:00:00+00:00", now) == datetime(2021, 8, 1, 12, tzinfo=UTC)
    for bad in (
        "yesterday",
        "2021-13-01",
        "1999-01-01",
        "2030-01-01",
        "2030-01-01T00:00:00Z",
        "9999-12-31",
        "0001-01-01T00:00:00+14:00",
    ):
        with pytest.raises(InvalidInput) as error:
            parse_as_of(bad, now)
        assert error.value.field == "as_of"


def test_holds_examinations_refusals_and_cancellations_have_their_stages() -> None:
    sid = uuid.uuid4()
    arrived = flow(sid, until="arrived")
    at = arrived[-1].recorded_at

    def after(*events: object) -> Stage:
        extra = [Published("customs", e, at, "customs.han") for e in events]
        return stage_of(fold(recorded([*arrived, *extra]))[str(sid)])

    hold = c.HoldPlaced(
        shipment_id=sid, hold_id="H1", reason=c.HoldReason.INSPECTION, placed_by="c", placed_at=at
    )
    examined = c.GoodsExamined(
        shipment_id=sid, place=c.ExaminationPlace.AIRPORT, examined_by="c", examined_at=at
    )
    lifted = c.HoldReleased(shipment_id=sid, hold_id="H1", released_by="c", released_at=at)
    line = arrived[0].event.lines[0]  # type: ignore[attr-defined]
    refused = c.GoodsRefused(
        shipment_id=sid,
        outcome=c.RefusalOutcome.RE_EXPORT,
        reason="no licence",
        refused_by="c",
        refused_at=at,
        lines=(line,),
    )
    assert after(hold) is Stage.CUSTOMS_HELD
    assert after(hold, examined) is Stage.CUSTOMS_HELD
    assert after(hold, examined, lifted) is Stage.CUSTOMS_EXAMINED
    assert after(refused) is Stage.REFUSED
    state = fold(recorded([*arrived, Published("customs", refused, at, "c")]))[str(sid)]
    report = reports.consignment_report(state)
    assert ("customs", "re_export: no licence", 1000) in {
        (r.where, r.reason, r.quantity) for r in report.rejections
    }

    announced = flow(uuid.uuid4(), until="announced")
    cancel = i.ShipmentCancelled(
        shipment_id=announced[0].event.shipment_id,
        reason="flight cancelled",
        cancelled_by="intake.han",
        cancelled_at=T0,
    )
    cancelled = fold(recorded([*announced, Published("intake", cancel, T0, "intake.han")]))
    (one,) = cancelled.values()
    assert stage_of(one) is Stage.CANCELLED
    assert picture.donors(tally_of([one])) == []  # nothing came: in no total
