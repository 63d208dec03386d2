"""The arrival inspection: parts counted per lot, the shelf-life gate, discrepancies, the VAR,
amendments, cancellation and closing. Pure rules, with hypothesis where a rule must always hold."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.intake.domain import (
    AmendShipment,
    CancelShipment,
    CloseShipment,
    FileArrivalReport,
    LotCount,
    RecordArrival,
    RecordInspection,
    ReportSections,
    ShelfLifePolicy,
    Shipment,
    ShipmentStatus,
    decider,
)
from services.intake.rules.shelf_life import Acceptance, judge
from shared.contracts.base import DomainEvent
from shared.contracts.intake import (
    MAX_PARTS,
    ArrivalReportFiled,
    LoggerAlarm,
    ProblemBox,
    ShipmentAmended,
    ShipmentArrivedV2,
    ShipmentCancelled,
    ShipmentClosed,
    ShippingIndicators,
    VvmReading,
)
from shared.contracts.values import (
    Category,
    CountedLot,
    DiscrepancyKind,
    LineItem,
    Priority,
    Rejection,
    RejectionReason,
    Unit,
)
from shared.decider import DomainError, InvalidInput, NotFound, NotPermitted, StateConflict
from tests.unit.builders import NOW, line, lot, received
from tests.unit.intake.test_domain import announce, announced

R = RejectionReason
TODAY = NOW.date()


def inspection(*lots: LotCount, **changes: Any) -> RecordInspection:
    fields: dict[str, Any] = {
        "flight": "VN0317",
        "arrived_at": NOW,
        "entered_cold_store_at": NOW + timedelta(hours=1),
        "lots": lots or (count("A1", 500), count("A2", 500)),
        "recorded_by": "intake.han",
        "by_supervisor": False,
        "now": NOW + timedelta(hours=2),
    }
    return RecordInspection(**(fields | changes))


def count(lot_number: str, counted: int, *rejections: tuple[R, int], **changes: Any) -> LotCount:
    rejected = tuple(Rejection(reason=r, quantity=q) for r, q in rejections)
    fields: dict[str, Any] = {"line_no": 1, "lot_number": lot_number, "counted": counted}
    return LotCount(**(fields | changes), rejections=rejected)


def state_of(events: list[DomainEvent]) -> Shipment:
    return decider.fold(events)


def after(command: Any, events: list[DomainEvent] | None = None) -> list[DomainEvent]:
    """The events so far plus the command's."""
    events = events if events is not None else announced()
    return [*events, *decider.decide(command, state_of(events))]


def refusal(command: Any, events: list[DomainEvent]) -> DomainError:
    with pytest.raises(DomainError) as refused:
        decider.decide(command, state_of(events))
    return refused.value


def part_of(events: list[DomainEvent]) -> ShipmentArrivedV2:
    return [e for e in events if isinstance(e, ShipmentArrivedV2)][-1]


def lots_of(events: list[DomainEvent]) -> dict[str, CountedLot]:
    return {lot.lot_number: lot for lot in part_of(events).lots}


def vaccine_with(*lots: Any, line_no: int = 1) -> LineItem:
    return line(line_no, sum(x.quantity for x in lots), lots=tuple(lots))


# --- counting ------------------------------------------------------------------------------


def test_a_part_counted_lot_by_lot_keeps_accepted_plus_rejected_equal_to_counted() -> None:
    events = after(
        inspection(
            count("A1", 500, (R.DAMAGED, 20), (R.TEMPERATURE_EXCURSION, 30)), count("A2", 500)
        )
    )
    got = lots_of(events)
    assert got["A1"].accepted == 450 and got["A2"].accepted == 500
    assert {r.reason: r.quantity for r in got["A1"].rejections} == {
        R.DAMAGED: 20,
        R.TEMPERATURE_EXCURSION: 30,
    }
    assert part_of(events).part_no == 1 and part_of(events).flight == "VN0317"
    assert state_of(events).status is ShipmentStatus.PARTIALLY_ARRIVED


def test_rejections_of_the_same_reason_are_merged() -> None:
    events = after(inspection(count("A1", 500, (R.DAMAGED, 20), (R.DAMAGED, 5))))
    assert lots_of(events)["A1"].rejections == (Rejection(reason=R.DAMAGED, quantity=25),)


@pytest.mark.parametrize(
    ("command", "field", "code"),
    [
        (
            inspection(count("A1", 10, (R.DAMAGED, 11))),
            "lots/0/rejections",
            "rejected-more-than-counted",
        ),
        (
            inspection(count("A1", 10, (R.SHORT, 1))),
            "lots/0/rejections/0/reason",
            "reason-not-at-airport",
        ),
        (inspection(count("A1", 10), count("A1", 5)), "lots/1/lot_number", "duplicate-lot"),
        (inspection(count("A1", 10, line_no=9)), "lots/0/line_no", "unknown-line"),
        (inspection(count("", 10)), "lots/0/lot_number", "no-lot"),
        (inspection(count("X9", 10)), "lots/0/expiry_date", "no-expiry"),
        (
            inspection(count("X9", 10, expiry_date=TODAY + timedelta(days=300))),
            "lots/0/discrepancy_reason",
            "discrepancy-needs-reason",
        ),
        (inspection(count("A1", 501)), "lots/0/discrepancy_reason", "discrepancy-needs-reason"),
        (inspection(lots=()), "lots", "no-lots"),
        (inspection(arrived_at=NOW + timedelta(hours=3)), "arrived_at", "arrival-in-future"),
        (
            inspection(entered_cold_store_at=NOW - timedelta(minutes=1)),
            "entered_cold_store_at",
            "implausible-date",
        ),
        (inspection(arrived_at=NOW.replace(tzinfo=None)), "arrived_at", "no-time-zone"),
    ],
)
def test_bad_counts_are_refused_with_the_field_at_fault(
    command: RecordInspection, field: str, code: str
) -> None:
    refused = refusal(command, announced())
    assert isinstance(refused, InvalidInput)
    assert (refused.field, refused.code) == (field, code)


def test_a_line_without_lots_is_counted_as_one_without_a_number() -> None:
    masks = line(2, 250, lots=(), category=Category.MEDICAL_SUPPLY, unit=Unit.PIECES)
    events = announced(line(), masks)
    refused = refusal(inspection(count("M1", 10, line_no=2)), events)
    assert refused.code == "line-without-lots"
    got = after(inspection(count("", 250, line_no=2)), events)
    assert part_of(got).lots[0].accepted == 250 and part_of(got).discrepancies == ()


# --- discrepancies: recorded, never refused ----------------------------------------------------


def test_a_lot_not_on_the_manifest_is_recorded_as_a_discrepancy_and_counted() -> None:
    extra = count(
        "X9", 40, expiry_date=TODAY + timedelta(days=300), discrepancy_reason="found in box 12"
    )
    events = after(inspection(count("A1", 500), extra))
    [found] = part_of(events).discrepancies
    assert (found.kind, found.lot_number, found.quantity) == (
        DiscrepancyKind.NOT_ON_MANIFEST,
        "X9",
        40,
    )
    assert found.reason == "found in box 12"
    assert lots_of(events)["X9"].accepted == 40


def test_an_over_receipt_over_two_parts_is_a_discrepancy_of_the_excess_only() -> None:
    events = after(inspection(count("A1", 400)))
    events = after(inspection(count("A1", 150, discrepancy_reason="extra carton")), events)
    [over] = part_of(events).discrepancies
    assert (over.kind, over.quantity) == (DiscrepancyKind.OVER_RECEIPT, 50)


def test_closing_records_what_was_short_over_all_parts() -> None:
    events = after(inspection(count("A1", 300)))
    events = after(inspection(count("A1", 150), count("A2", 500)), events)
    events = after(CloseShipment("intake.han", "", NOW), events)
    closed = events[-1]
    assert isinstance(closed, ShipmentClosed)
    [short] = closed.discrepancies
    assert (short.kind, short.lot_number, short.quantity) == (
        DiscrepancyKind.SHORT_SHIPMENT,
        "A1",
        50,
    )
    [accepted] = closed.accepted
    assert accepted.quantity == 950
    assert {(x.lot_number, x.quantity) for x in accepted.lots} == {("A1", 450), ("A2", 500)}
    assert state_of(events).status is ShipmentStatus.ARRIVED


# --- the shelf-life gate and expiry -------------------------------------------------------------


def short_lived(days: int) -> list[DomainEvent]:
    return announced(vaccine_with(lot("S1", 100, days=days)))


def test_a_vaccine_lot_with_less_than_ten_weeks_left_is_refused_without_a_supervisor() -> None:
    events = after(inspection(count("S1", 100)), short_lived(69))
    got = lots_of(events)["S1"]
    assert got.short_shelf_life and got.accepted == 0
    assert got.rejections == (Rejection(reason=R.SHORT_SHELF_LIFE_REFUSED, quantity=100),)


def test_ten_weeks_left_passes_the_gate() -> None:
    got = lots_of(after(inspection(count("S1", 100)), short_lived(70)))["S1"]
    assert not got.short_shelf_life and got.accepted == 100


def test_a_supervisor_accepts_a_flagged_lot_with_a_reason() -> None:
    command = inspection(
        count("S1", 100, accept_short_shelf_life="campaign next week"), by_supervisor=True
    )
    got = lots_of(after(command, short_lived(30)))["S1"]
    assert got.short_shelf_life and got.accepted == 100
    assert got.acceptance_reason == "campaign next week"


def test_an_officer_cannot_accept_a_flagged_lot() -> None:
    command = inspection(count("S1", 100, accept_short_shelf_life="please"))
    refused = refusal(command, short_lived(30))
    assert isinstance(refused, NotPermitted)
    assert (refused.field, refused.code) == (
        "lots/0/accept_short_shelf_life",
        "supervisor-required",
    )


def test_the_limits_are_per_category_and_configurable() -> None:
    drug = line(1, 100, lots=(lot("D1", 100, days=300),), category=Category.DRUG)
    events = announced(drug)
    assert lots_of(after(inspection(count("D1", 100)), events))["D1"].short_shelf_life
    lenient = ShelfLifePolicy({Category.DRUG: 200})
    got = lots_of(after(inspection(count("D1", 100), policy=lenient), events))["D1"]
    assert not got.short_shelf_life and got.accepted == 100


def test_a_lot_that_expired_in_transit_is_rejected_expired_even_if_a_supervisor_accepts() -> None:
    events = short_lived(2)
    command = inspection(
        count("S1", 100, (R.DAMAGED, 10), accept_short_shelf_life="x"),
        arrived_at=NOW + timedelta(days=3),
        now=NOW + timedelta(days=3),
        entered_cold_store_at=None,
        by_supervisor=True,
    )
    got = lots_of(after(command, events))["S1"]
    assert got.accepted == 0
    assert {r.reason: r.quantity for r in got.rejections} == {R.DAMAGED: 10, R.EXPIRED: 90}


def test_the_one_shot_arrival_also_rejects_an_expired_lot() -> None:
    events = short_lived(2)
    late = NOW + timedelta(days=3)
    command = RecordArrival(late, received((1, "S1", 100)), "", late)
    events = after(command, events)
    assert lots_of(events)["S1"].rejections == (Rejection(reason=R.EXPIRED, quantity=100),)
    closed = events[-1]
    assert isinstance(closed, ShipmentClosed) and closed.nothing_to_clear
    assert state_of(events).status is ShipmentStatus.NOTHING_TO_CLEAR


def test_expiry_is_judged_on_the_local_day_of_arrival() -> None:
    # 17:30 UTC on the 25th is 00:30 on the 26th in Viet Nam: a lot expiring on the 25th is out.
    events = announced(vaccine_with(lot("S1", 100, days=0)))
    arrived = NOW.replace(hour=17, minute=30)
    command = inspection(
        count("S1", 100), arrived_at=arrived, now=arrived, entered_cold_store_at=None
    )
    assert lots_of(after(command, events))["S1"].rejections[0].reason is R.EXPIRED


rejection_reasons = st.sampled_from(sorted(set(R) - {R.SHORT}))


@given(
    counted=st.integers(0, 10_000),
    rejected=st.lists(st.tuples(rejection_reasons, st.integers(1, 3_000)), max_size=4),
    days_left=st.integers(-30, 400),
    category=st.sampled_from(list(Category)),
    reason=st.sampled_from(["", "needed now"]),
    supervisor=st.booleans(),
)
def test_the_gate_keeps_the_count_and_never_lets_through_what_it_must_not(
    counted: int,
    rejected: list[tuple[R, int]],
    days_left: int,
    category: Category,
    reason: str,
    supervisor: bool,
) -> None:
    rejections = tuple(Rejection(reason=r, quantity=q) for r, q in rejected)
    assume(sum(r.quantity for r in rejections) <= counted)
    lot = CountedLot(
        line_no=1,
        lot_number="L1",
        expiry_date=TODAY + timedelta(days=days_left),
        counted=counted,
        accepted=counted - sum(r.quantity for r in rejections),
        rejections=rejections,
    )
    policy = ShelfLifePolicy()
    try:
        judged = judge(lot, category, TODAY, policy, Acceptance(reason, supervisor))
    except NotPermitted:
        assert reason and not supervisor
        return
    assert judged.accepted + sum(r.quantity for r in judged.rejections) == judged.counted
    if days_left < 0:
        assert judged.accepted == 0  # expired lots are never accepted
    elif days_left < policy.minimum(category):
        assert judged.short_shelf_life
        if judged.accepted:
            assert supervisor and judged.acceptance_reason  # never without a supervisor
    else:
        assert judged == lot


@given(st.lists(st.tuples(st.integers(0, 600), st.integers(0, 600)), min_size=1, max_size=4))
def test_for_each_lot_accepted_plus_rejected_equals_counted_over_any_parts(
    parts: list[tuple[int, int]],
) -> None:
    events = announced()
    for counted, damaged in parts:
        rejections = ((R.DAMAGED, min(damaged, counted)),) if min(damaged, counted) else ()
        lot_count = count("A1", counted, *rejections, discrepancy_reason="recounted")
        events = after(inspection(lot_count), events)
    for part in (e for e in events if isinstance(e, ShipmentArrivedV2)):
        for got in part.lots:
            assert got.accepted + sum(r.quantity for r in got.rejections) == got.counted
    events = after(CloseShipment("intake.han", "", NOW), events)
    closed = events[-1]
    assert isinstance(closed, ShipmentClosed)
    accepted = sum(c - min(d, c) for c, d in parts)
    assert sum(x.quantity for x in closed.accepted) == accepted
    assert closed.nothing_to_clear == (accepted == 0)


# --- split arrivals and closing -------------------------------------------------------------


def test_a_consignment_arrives_in_parts_until_closed() -> None:
    events = after(inspection(count("A1", 500)))
    events = after(inspection(count("A2", 500), flight="VN0319"), events)
    assert [p.part_no for p in events if isinstance(p, ShipmentArrivedV2)] == [1, 2]
    events = after(CloseShipment("intake.han", "all in", NOW), events)
    assert state_of(events).status is ShipmentStatus.ARRIVED
    assert refusal(inspection(), events).code == "already-closed"
    assert refusal(CloseShipment("intake.han", "", NOW), events).code == "already-closed"


def test_closing_before_any_part_is_a_conflict() -> None:
    refused = refusal(CloseShipment("intake.han", "", NOW), announced())
    assert isinstance(refused, StateConflict) and refused.code == "nothing-arrived"


def test_a_fully_rejected_consignment_closes_with_nothing_to_clear() -> None:
    events = after(
        inspection(
            count("A1", 500, (R.DAMAGED, 500)), count("A2", 500, (R.TEMPERATURE_EXCURSION, 500))
        )
    )
    events = after(CloseShipment("intake.han", "", NOW), events)
    closed = events[-1]
    assert isinstance(closed, ShipmentClosed)
    assert closed.accepted == () and closed.nothing_to_clear
    assert state_of(events).status is ShipmentStatus.NOTHING_TO_CLEAR


def test_no_more_than_the_maximum_of_parts() -> None:
    events = announced()
    for _ in range(MAX_PARTS):
        events = after(inspection(count("A1", 0)), events)
    assert refusal(inspection(count("A1", 0)), events).code == "too-many-parts"


def test_commands_on_a_shipment_never_announced_are_not_found() -> None:
    for command in (inspection(), CloseShipment("u", "", NOW), CancelShipment("r", "u", NOW)):
        assert isinstance(refusal(command, []), NotFound)


# --- the VAR ------------------------------------------------------------------------------


def sections(*boxes: ProblemBox, line_no: int = 1) -> ReportSections:
    return ReportSections(
        line_no=line_no,
        inspected_by="Nguyen Van A",
        shipping_indicators=ShippingIndicators(boxes_inspected=12, problem_boxes=boxes),
    )


def vvm_box(stage: int, lot_number: str = "A1") -> ProblemBox:
    return ProblemBox(
        box_number="7",
        alarm=LoggerAlarm.ALARM,
        vvm=(VvmReading(lot_number=lot_number, stage=stage),),
    )


def test_a_var_filed_with_the_inspection_takes_the_flight_from_the_part() -> None:
    events = after(inspection(reports=(sections(vvm_box(2)),)))
    report = events[-1]
    assert isinstance(report, ArrivalReportFiled)
    assert (report.part_no, report.line_no) == (1, 1)
    assert report.flight_arrival.flight == "VN0317"
    assert report.flight_arrival.entered_cold_store_at == NOW + timedelta(hours=1)
    assert report.shipping_indicators.problem_boxes[0].alarm is LoggerAlarm.ALARM


def test_a_vvm_past_its_discard_point_needs_a_vvm_rejection() -> None:
    refused = refusal(inspection(reports=(sections(vvm_box(3)),)), announced())
    assert refused.code == "vvm-discard-point"
    assert refused.field == "reports/0/shipping_indicators/problem_boxes/0/vvm/0/lot_number"
    command = inspection(
        count("A1", 500, (R.VVM_DISCARD_POINT, 50)),
        count("A2", 500),
        reports=(sections(vvm_box(4)),),
    )
    assert isinstance(after(command)[-1], ArrivalReportFiled)


def test_a_var_is_filed_later_once_per_line_and_part() -> None:
    events = after(inspection())
    later = FileArrivalReport(1, sections(), "intake.han", NOW + timedelta(days=1))
    events = after(later, events)
    assert isinstance(events[-1], ArrivalReportFiled)
    assert events[-1].flight_arrival.arrived_at == NOW
    assert events[-1].flight_arrival.flight == "VN0317"  # from the part as recorded
    assert refusal(later, events).code == "report-already-filed"
    assert refusal(FileArrivalReport(2, sections(), "u", NOW), events).code == "unknown-part"


def test_a_var_is_for_a_vaccine_line_that_came_in_the_part() -> None:
    masks = line(2, 250, lots=(), category=Category.MEDICAL_SUPPLY, unit=Unit.PIECES)
    events = after(inspection(count("", 250, line_no=2)), announced(line(), masks))
    refused = refusal(FileArrivalReport(1, sections(line_no=2), "u", NOW), events)
    assert refused.code == "not-a-vaccine-line"
    refused = refusal(FileArrivalReport(1, sections(line_no=1), "u", NOW), events)
    assert refused.code == "line-not-in-part"


# --- amendments and cancellation ------------------------------------------------------------


def amendment(**changes: Any) -> AmendShipment:
    fields: dict[str, Any] = {
        "reason": "donor corrected the lot quantities",
        "amended_by": "intake.han",
        "donor": "COVAX",
        "channel": announce().channel,
        "flight": "VN0319",
        "expected_arrival": NOW + timedelta(days=1),
        "consignee": "NIHE",
        "lines": (line(quantity=800),),
        "now": NOW,
    }
    return AmendShipment(**(fields | changes))


def test_an_amendment_before_arrival_replaces_the_announcement() -> None:
    events = after(amendment())
    amended = events[-1]
    assert isinstance(amended, ShipmentAmended)
    assert amended.airway_bill == "738-12345675" and amended.flight == "VN0319"
    assert state_of(events).lines == (line(quantity=800),)
    got = after(inspection(count("A1", 400), count("A2", 400)), events)
    assert part_of(got).discrepancies == ()  # judged against the amended manifest


def test_an_amendment_changes_the_priority_only_when_it_names_one() -> None:
    kept = after(amendment())[-1]
    assert isinstance(kept, ShipmentAmended) and kept.priority is None
    raised = after(amendment(priority=Priority.EMERGENCY))[-1]
    assert isinstance(raised, ShipmentAmended) and raised.priority is Priority.EMERGENCY


def test_an_amendment_is_checked_like_an_announcement_and_needs_a_reason() -> None:
    assert refusal(amendment(reason=" "), announced()).code == "no-reason"
    assert refusal(amendment(lines=()), announced()).code == "no-lines"
    lots = (lot("A1", 500, days=-1),)
    assert refusal(amendment(lines=(line(quantity=500, lots=lots),)), announced()).code == (
        "expired-lot"
    )


def test_no_amendment_or_cancellation_after_arrival() -> None:
    events = after(inspection())
    assert refusal(amendment(), events).code == "already-arrived"
    assert refusal(CancelShipment("late", "u", NOW), events).code == "already-arrived"


def test_a_cancelled_consignment_takes_no_more_commands() -> None:
    events = after(CancelShipment("donor withdrew", "intake.han", NOW))
    assert isinstance(events[-1], ShipmentCancelled)
    assert state_of(events).status is ShipmentStatus.CANCELLED
    for command in (
        inspection(),
        amendment(),
        CancelShipment("again", "u", NOW),
        CloseShipment("u", "", NOW),
    ):
        assert refusal(command, events).code == "cancelled"
    one_shot = RecordArrival(NOW, received((1, "A1", 500)), "", NOW)
    assert refusal(one_shot, events).code == "cancelled"
