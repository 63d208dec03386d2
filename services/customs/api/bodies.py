"""The bodies of the customs API's requests, and the case as it answers (with its clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.customs import domain
from services.customs.office import office_hours
from services.customs.queries import CaseView, Clock
from shared.contracts.customs import (
    DeclarationType,
    Document,
    DocumentStatus,
    Examination,
    ExaminationPlace,
    HeldLot,
    HoldReason,
    Lane,
    PermitStatus,
    RefusalOutcome,
)
from shared.contracts.limits import (
    CODE_LENGTH,
    MAX_LINES,
    MAX_RECEIVED,
    NAME_LENGTH,
    REMARKS_LENGTH,
    Code,
    FreeText,
    Text,
)


class FastTrackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    declaration_number: Code = Field(
        min_length=1, max_length=CODE_LENGTH, examples=["104123456789"]
    )
    lane: Lane = Lane.GREEN
    examination: Examination = Examination.NONE
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)

    def to_command(self, now: datetime) -> domain.ClearFastTrack:
        return domain.ClearFastTrack(
            declaration_number=self.declaration_number,
            lane=self.lane,
            examination=self.examination,
            remarks=self.remarks,
            now=now,
        )


class ClearancePublic(CaseView):
    """A clearance case as the API shows it (the read model, named for the OpenAPI document),
    with its clock: time since arrival against the clearance target."""

    clock: Clock | None = None

    @classmethod
    def of_view(cls, case: CaseView) -> ClearancePublic:
        clock = case.clock_at(datetime.now(UTC), office_hours())
        return cls.model_validate(case.model_dump() | {"clock": clock})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DeclarationCreate(Strict):
    declaration_number: Code = Field(pattern=r"^[0-9]{12}$", examples=["104123456789"])
    declaration_type: DeclarationType
    completion_deadline: date | None = Field(
        None, description="required for a provisional declaration, refused otherwise"
    )
    exemption_basis: Text = Field("", max_length=NAME_LENGTH, examples=["Resolution 106/NQ-CP"])


class DocumentCreate(Strict):
    document: Document
    status: DocumentStatus
    reason: FreeText = Field("", max_length=REMARKS_LENGTH, description="required when waived")


class PermitCreate(Strict):
    agency: Text = Field(min_length=1, max_length=NAME_LENGTH, examples=["Drug Administration"])
    status: PermitStatus
    reference: Code = Field("", max_length=CODE_LENGTH)


class LaneCreate(Strict):
    lane: Lane


class ExaminationCreate(Strict):
    place: ExaminationPlace
    partial: bool = False
    findings: FreeText = Field("", max_length=REMARKS_LENGTH)


class LotQuantity(Strict):
    line_no: int = Field(ge=1, le=MAX_LINES)
    lot_number: Code = Field(
        "", max_length=CODE_LENGTH, description="empty for a line without lots"
    )
    quantity: int = Field(ge=1, le=10**9)

    def held(self) -> HeldLot:
        return HeldLot(line_no=self.line_no, lot_number=self.lot_number, quantity=self.quantity)


class HoldCreate(Strict):
    reason: HoldReason
    lots: list[LotQuantity] = Field(
        [], max_length=MAX_RECEIVED, description="empty: the hold covers the whole case"
    )
    note: FreeText = Field("", max_length=REMARKS_LENGTH)


class HoldReleaseCreate(Strict):
    note: FreeText = Field("", max_length=REMARKS_LENGTH)


class Quantities(Strict):
    """Either ``lots`` with quantities, or ``everything`` (all that is releasable/refusable)."""

    lots: list[LotQuantity] | None = Field(None, min_length=1, max_length=MAX_RECEIVED)
    everything: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.lots is None) != self.everything:
            raise ValueError("give either lots with quantities or everything: true")
        return self

    def chosen(self) -> tuple[HeldLot, ...] | None:
        return None if self.lots is None else tuple(lot.held() for lot in self.lots)


class ReleaseCreate(Quantities):
    remarks: FreeText = Field("", max_length=REMARKS_LENGTH)


class RefusalCreate(Quantities):
    outcome: RefusalOutcome
    reason: FreeText = Field(min_length=1, max_length=REMARKS_LENGTH)
