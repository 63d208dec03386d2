"""An arrival part (one flight) inspected lot by lot, and the one-shot arrival.

Per lot: counted = accepted + the rejections, each with a reason from the fixed list. What
differs from the manifest (a lot not on it, more than announced) is recorded as a
discrepancy with a reason, never refused: the goods are physically there. The shelf-life
gate (``shelf_life``) then judges each lot against the day of arrival.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from services.intake.rules.announcement import (
    ARRIVAL_WINDOW,
    CLOCK_SKEW,
    check_within,
    check_zoned,
)
from services.intake.rules.closing import check_open
from services.intake.rules.reports import ReportSections, report_for
from services.intake.rules.shelf_life import Acceptance, ShelfLifePolicy, judge, merge_rejections
from services.intake.rules.state import NO_LOT, VIET_NAM, Shipment, Tally, evolve
from shared.contracts.base import DomainEvent
from shared.contracts.intake import MAX_PARTS, ShipmentArrivedV2
from shared.contracts.values import (
    CountedLot,
    Discrepancy,
    DiscrepancyKind,
    LineItem,
    Rejection,
    RejectionReason,
)
from shared.decider import InvalidInput, StateConflict

# SHORT is for provinces (dispatched, not delivered); at the airport a missing unit is a
# short shipment, a discrepancy.
AIRPORT_REJECTIONS = frozenset(RejectionReason) - {RejectionReason.SHORT}


@dataclass(frozen=True)
class LotCount:
    """One lot as the officer counted it in this part."""

    line_no: int
    lot_number: str
    counted: int
    rejections: tuple[Rejection, ...] = ()
    expiry_date: date | None = None  # needed for a lot not on the manifest
    discrepancy_reason: str = ""  # why a lot is off the manifest or over the announced count
    accept_short_shelf_life: str = ""  # a supervisor's reason to accept a flagged lot


@dataclass(frozen=True)
class RecordInspection:
    flight: str
    arrived_at: datetime
    entered_cold_store_at: datetime | None
    lots: tuple[LotCount, ...]
    recorded_by: str
    by_supervisor: bool
    now: datetime
    reports: tuple[ReportSections, ...] = ()
    remarks: str = ""
    policy: ShelfLifePolicy = field(default_factory=ShelfLifePolicy)


def inspect(command: RecordInspection, state: Shipment) -> list[DomainEvent]:
    check_open(state)
    if len(state.parts) >= MAX_PARTS:
        raise StateConflict(
            f"a consignment arrives in at most {MAX_PARTS} parts", code="too-many-parts"
        )
    check_times(command.arrived_at, command.entered_cold_store_at, command.now)
    if not command.lots:
        raise InvalidInput("count at least one lot", field="lots", code="no-lots")
    arrival_day = command.arrived_at.astimezone(VIET_NAM).date()
    tallies = state.tallies()
    lots: list[CountedLot] = []
    discrepancies: list[Discrepancy] = []
    seen: set[tuple[int, str]] = set()
    for index, count in enumerate(command.lots):
        where = f"lots/{index}/"
        line = known_line(state, count.line_no, where)
        check_count(count, line, seen, where)
        expiry = manifest_expiry(line, count.lot_number)
        if expiry is None and count.lot_number != NO_LOT:
            discrepancies.append(not_on_manifest(count, where))
            expiry = count.expiry_date
        else:
            discrepancies += over_receipt(count, line, tallies, where)
        lots.append(gated(count, line, expiry, arrival_day, command, where))
    part_no = len(state.parts) + 1
    arrived = ShipmentArrivedV2(
        shipment_id=state.shipment_id,
        airport=state.airport,  # goods land where they were announced; not the client's say
        part_no=part_no,
        flight=command.flight,
        arrived_at=command.arrived_at,
        entered_cold_store_at=command.entered_cold_store_at,
        lots=tuple(lots),
        discrepancies=tuple(discrepancies),
        recorded_by=command.recorded_by,
        remarks=command.remarks,
    )
    return [arrived, *reports_of(command, state, arrived)]


def reports_of(
    command: RecordInspection, state: Shipment, arrived: ShipmentArrivedV2
) -> list[DomainEvent]:
    with_part = evolve(state, arrived)
    part = with_part.parts[-1]
    events: list[DomainEvent] = []
    for index, report in enumerate(command.reports):
        filed = report_for(
            with_part, part, f"reports/{index}/", report, command.recorded_by, command.now
        )
        with_part = evolve(with_part, filed)
        events.append(filed)
    return events


def check_times(arrived_at: datetime, cold_store_at: datetime | None, now: datetime) -> None:
    check_zoned(arrived_at, "arrived_at")
    if arrived_at > now + CLOCK_SKEW:
        raise InvalidInput(
            f"the arrival time {arrived_at.isoformat()} is in the future",
            field="arrived_at",
            code="arrival-in-future",
        )
    check_within(arrived_at, now, ARRIVAL_WINDOW, "arrived_at")
    if cold_store_at is None:
        return
    check_zoned(cold_store_at, "entered_cold_store_at")
    if not arrived_at <= cold_store_at <= now + CLOCK_SKEW:
        raise InvalidInput(
            "the goods enter the cold store after they land and not in the future",
            field="entered_cold_store_at",
            code="implausible-date",
        )


def known_line(state: Shipment, line_no: int, where: str) -> LineItem:
    line = state.line(line_no)
    if line is None:
        raise InvalidInput(
            f"no line {line_no} was announced", field=f"{where}line_no", code="unknown-line"
        )
    return line


def check_count(count: LotCount, line: LineItem, seen: set[tuple[int, str]], where: str) -> None:
    key = (count.line_no, count.lot_number)
    if key in seen:
        raise InvalidInput(
            f"lot {count.lot_number!r} of line {count.line_no} is listed twice",
            field=f"{where}lot_number",
            code="duplicate-lot",
        )
    seen.add(key)
    if not line.lots and count.lot_number != NO_LOT:
        raise InvalidInput(
            f"line {line.line_no} was announced without lots: count it as one, without a number",
            field=f"{where}lot_number",
            code="line-without-lots",
        )
    if line.lots and count.lot_number == NO_LOT:
        raise InvalidInput("a lot needs a lot number", field=f"{where}lot_number", code="no-lot")
    if count.counted < 0:
        raise InvalidInput("a count cannot be negative", field=f"{where}counted", code="negative")
    for r, rejection in enumerate(count.rejections):
        if rejection.reason not in AIRPORT_REJECTIONS:
            raise InvalidInput(
                f"{rejection.reason.value} is not a reason at the airport; a missing unit is a "
                "short shipment",
                field=f"{where}rejections/{r}/reason",
                code="reason-not-at-airport",
            )
    rejected = sum(r.quantity for r in count.rejections)
    if rejected > count.counted:
        raise InvalidInput(
            f"{rejected} units rejected of lot {count.lot_number!r}, but only {count.counted} "
            "counted",
            field=f"{where}rejections",
            code="rejected-more-than-counted",
        )


def manifest_expiry(line: LineItem, lot_number: str) -> date | None:
    return next((lot.expiry_date for lot in line.lots if lot.lot_number == lot_number), None)


def announced_quantity(line: LineItem, lot_number: str) -> int:
    if not line.lots:
        return line.quantity
    return next(lot.quantity for lot in line.lots if lot.lot_number == lot_number)


def not_on_manifest(count: LotCount, where: str) -> Discrepancy:
    if count.expiry_date is None:
        raise InvalidInput(
            f"lot {count.lot_number!r} is not on the manifest: give its expiry date",
            field=f"{where}expiry_date",
            code="no-expiry",
        )
    return Discrepancy(
        kind=DiscrepancyKind.NOT_ON_MANIFEST,
        line_no=count.line_no,
        lot_number=count.lot_number,
        quantity=count.counted,
        reason=required_reason(count, where, "is not on the manifest"),
    )


def over_receipt(
    count: LotCount, line: LineItem, tallies: dict[tuple[int, str], Tally], where: str
) -> list[Discrepancy]:
    before = tallies.get((count.line_no, count.lot_number), Tally()).counted
    over = before + count.counted - announced_quantity(line, count.lot_number)
    if over <= 0:
        return []
    return [
        Discrepancy(
            kind=DiscrepancyKind.OVER_RECEIPT,
            line_no=count.line_no,
            lot_number=count.lot_number,
            quantity=min(over, count.counted),
            reason=required_reason(count, where, "is counted over its announced quantity"),
        )
    ]


def required_reason(count: LotCount, where: str, what: str) -> str:
    reason = count.discrepancy_reason.strip()
    if not reason:
        raise InvalidInput(
            f"lot {count.lot_number!r} {what}: say why",
            field=f"{where}discrepancy_reason",
            code="discrepancy-needs-reason",
        )
    return reason


def gated(
    count: LotCount,
    line: LineItem,
    expiry: date | None,
    arrival_day: date,
    command: RecordInspection,
    where: str,
) -> CountedLot:
    rejections = merge_rejections(count.rejections)
    lot = CountedLot(
        line_no=count.line_no,
        lot_number=count.lot_number,
        expiry_date=expiry,
        counted=count.counted,
        accepted=count.counted - sum(r.quantity for r in rejections),
        rejections=rejections,
    )
    acceptance = Acceptance(count.accept_short_shelf_life, command.by_supervisor)
    return judge(
        lot,
        line.category,
        arrival_day,
        command.policy,
        acceptance,
        f"{where}accept_short_shelf_life",
    )
