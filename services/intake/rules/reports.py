"""The Vaccine Arrival Report (VAR): one per vaccine line of each arrival part.

Filed with the part's inspection or within 3 days after it (``VAR_DUE``). The flight part of
the form is taken from the part as recorded, so the report and the counts cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.intake.rules.state import Part, Shipment, ShipmentStatus
from shared.contracts.intake import (
    AdvanceNotice,
    ArrivalReportFiled,
    FlightArrival,
    GeneralCondition,
    ShippingIndicators,
)
from shared.contracts.values import Category, CountedLot, RejectionReason
from shared.decider import InvalidInput, NotFound, StateConflict

VAR_DUE = timedelta(days=3)
DISCARD_STAGE = 3  # a VVM at stage 3 or 4 is past its discard point


@dataclass(frozen=True)
class ReportSections:
    """What the officer writes on the VAR of one vaccine line."""

    line_no: int
    inspected_by: str
    ratified_by: str = ""
    advance_notice: AdvanceNotice = field(default_factory=AdvanceNotice)
    shipping_indicators: ShippingIndicators = field(default_factory=ShippingIndicators)
    general_condition: GeneralCondition = field(default_factory=GeneralCondition)


@dataclass(frozen=True)
class FileArrivalReport:
    part_no: int
    report: ReportSections
    filed_by: str
    now: datetime


def file_report(command: FileArrivalReport, state: Shipment) -> list[ArrivalReportFiled]:
    if state.shipment_id is None:
        raise NotFound("no such shipment has been announced", code="shipment-not-found")
    part = state.part(command.part_no)
    if part is None:
        raise InvalidInput(
            f"no part {command.part_no} of this consignment has arrived",
            field="part_no",
            code="unknown-part",
        )
    return [report_for(state, part, "", command.report, command.filed_by, command.now)]


def report_for(
    state: Shipment,
    part: Part,
    where: str,
    report: ReportSections,
    filed_by: str,
    now: datetime,
) -> ArrivalReportFiled:
    """The VAR event for one line of a part, after checking it fits what was counted."""
    assert state.shipment_id is not None
    if state.status is ShipmentStatus.CANCELLED:
        raise StateConflict("this consignment is cancelled", code="cancelled")
    line = state.line(report.line_no)
    if line is None or line.category is not Category.VACCINE:
        raise InvalidInput(
            f"line {report.line_no} is not a vaccine line of this consignment",
            field=f"{where}line_no",
            code="not-a-vaccine-line",
        )
    lots = {lot.lot_number: lot for lot in part.lots if lot.line_no == report.line_no}
    if not lots:
        raise InvalidInput(
            f"part {part.part_no} brought nothing of line {report.line_no}",
            field=f"{where}line_no",
            code="line-not-in-part",
        )
    if (part.part_no, report.line_no) in state.reports:
        raise StateConflict(
            f"the VAR of line {report.line_no}, part {part.part_no} is already filed",
            code="report-already-filed",
        )
    if not report.inspected_by.strip():
        raise InvalidInput("who inspected?", field=f"{where}inspected_by", code="no-inspector")
    check_vvm(report, lots, where)
    return ArrivalReportFiled(
        shipment_id=state.shipment_id,
        part_no=part.part_no,
        line_no=report.line_no,
        filed_at=now,
        inspected_by=report.inspected_by.strip(),
        ratified_by=report.ratified_by.strip(),
        advance_notice=report.advance_notice,
        flight_arrival=FlightArrival(
            flight=part.flight,
            arrived_at=part.arrived_at,
            entered_cold_store_at=part.entered_cold_store_at,
        ),
        shipping_indicators=report.shipping_indicators,
        general_condition=report.general_condition,
        filed_by=filed_by,
    )


def check_vvm(report: ReportSections, lots: dict[str, CountedLot], where: str) -> None:
    """A VVM read past its discard point on a box means units of that lot were rejected for it."""
    boxes = report.shipping_indicators.problem_boxes
    for b, box in enumerate(boxes):
        for v, reading in enumerate(box.vvm):
            at = f"{where}shipping_indicators/problem_boxes/{b}/vvm/{v}/lot_number"
            lot = lots.get(reading.lot_number)
            if lot is None:
                raise InvalidInput(
                    f"lot {reading.lot_number!r} of line {report.line_no} was not counted "
                    "in this part",
                    field=at,
                    code="unknown-lot",
                )
            discarded = any(r.reason is RejectionReason.VVM_DISCARD_POINT for r in lot.rejections)
            if reading.stage >= DISCARD_STAGE and not discarded:
                raise InvalidInput(
                    f"box {box.box_number}: the VVM of lot {reading.lot_number!r} is at stage "
                    f"{reading.stage}, past the discard point; reject its units as "
                    "vvm_discard_point",
                    field=at,
                    code="vvm-discard-point",
                )
