"""Request bodies of the arrival-inspection commands, with the bounds of every field.

Each body turns itself into a domain command; who sent it (the principal) and the clock
come from the route.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.intake import domain
from services.intake.config import shelf_life_policy
from shared.auth import Principal, Role
from shared.contracts.intake import (
    MAX_PARTS,
    AdvanceNotice,
    GeneralCondition,
    ShippingIndicators,
)
from shared.contracts.limits import (
    CODE_LENGTH,
    MAX_LINES,
    MAX_QUANTITY,
    MAX_RECEIVED,
    NAME_LENGTH,
    REMARKS_LENGTH,
    Code,
    FreeText,
    Quantity,
    Text,
)
from shared.contracts.values import Rejection, RejectionReason

FLIGHT_PATTERN = "^[A-Za-z0-9]{2,16}$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def utc(moment: datetime) -> datetime:
    """Times without a zone are taken as UTC, so that the domain compares like with like."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RejectionIn(Model):
    reason: RejectionReason = Field(description="any reason but `short` (a province's reason)")
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    note: Text = Field("", max_length=NAME_LENGTH)


class LotCountIn(Model):
    line_no: int = Field(ge=1, le=MAX_LINES)
    lot_number: Code = Field(
        "", max_length=CODE_LENGTH, description="empty for a line announced without lots"
    )
    counted: Quantity
    rejections: list[RejectionIn] = Field(default_factory=list, max_length=len(RejectionReason))
    expiry_date: date | None = Field(None, description="required for a lot not on the manifest")
    discrepancy_reason: Text = Field(
        "",
        max_length=NAME_LENGTH,
        description="required when the lot is not on the manifest or over its announced count",
    )
    accept_short_shelf_life: Text = Field(
        "",
        max_length=NAME_LENGTH,
        description="an intake supervisor's reason to accept a lot flagged short shelf life",
    )

    def to_count(self) -> domain.LotCount:
        return domain.LotCount(
            line_no=self.line_no,
            lot_number=self.lot_number,
            counted=self.counted,
            rejections=tuple(Rejection(**r.model_dump()) for r in self.rejections),
            expiry_date=self.expiry_date,
            discrepancy_reason=self.discrepancy_reason,
            accept_short_shelf_life=self.accept_short_shelf_life,
        )


class ReportIn(Model):
    """The VAR of one vaccine line (the flight part comes from the arrival part itself)."""

    line_no: int = Field(ge=1, le=MAX_LINES)
    inspected_by: Text = Field(min_length=1, max_length=NAME_LENGTH)
    ratified_by: Text = Field("", max_length=NAME_LENGTH)
    advance_notice: AdvanceNotice = Field(default_factory=AdvanceNotice)
    shipping_indicators: ShippingIndicators = Field(default_factory=ShippingIndicators)
    general_condition: GeneralCondition = Field(default_factory=GeneralCondition)

    def to_sections(self) -> domain.ReportSections:
        return domain.ReportSections(
            line_no=self.line_no,
            inspected_by=self.inspected_by,
            ratified_by=self.ratified_by,
            advance_notice=self.advance_notice,
            shipping_indicators=self.shipping_indicators,
            general_condition=self.general_condition,
        )


class InspectionCreate(Model):
    flight: str = Field(pattern=FLIGHT_PATTERN, examples=["VN0317"])
    arrived_at: datetime = Field(description="not in the future, not more than a year ago")
    entered_cold_store_at: datetime | None = None
    lots: list[LotCountIn] = Field(min_length=1, max_length=MAX_RECEIVED)
    reports: list[ReportIn] = Field(default_factory=list, max_length=MAX_LINES)
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)

    def to_command(self, now: datetime, user: Principal) -> domain.RecordInspection:
        return domain.RecordInspection(
            flight=self.flight.upper(),
            arrived_at=utc(self.arrived_at),
            entered_cold_store_at=utc(self.entered_cold_store_at)
            if self.entered_cold_store_at
            else None,
            lots=tuple(lot.to_count() for lot in self.lots),
            recorded_by=user.sub,
            by_supervisor=user.role is Role.INTAKE_SUPERVISOR,
            now=now,
            reports=tuple(report.to_sections() for report in self.reports),
            remarks=self.remarks,
            policy=shelf_life_policy(),
        )


class ReportCreate(ReportIn):
    part_no: int = Field(ge=1, le=MAX_PARTS)

    def to_command(self, now: datetime, user: Principal) -> domain.FileArrivalReport:
        return domain.FileArrivalReport(self.part_no, self.to_sections(), user.sub, now)


class CancelCreate(Model):
    reason: FreeText = Field(min_length=1, max_length=REMARKS_LENGTH)

    def to_command(self, now: datetime, user: Principal) -> domain.CancelShipment:
        return domain.CancelShipment(self.reason, user.sub, now)


class CloseCreate(Model):
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)

    def to_command(self, now: datetime, user: Principal) -> domain.CloseShipment:
        return domain.CloseShipment(user.sub, self.remarks, now)
