"""Rules for the case's papers: the declaration (VNACCS, 12 digits; a provisional one with
its completion deadline, lodged before arrival if need be), the document checklist, other
agencies' permits, the lane, and the examination."""

from services.customs.domain.case import ClearanceCase
from services.customs.domain.commands import (
    AssignLane,
    LodgeDeclaration,
    RecordDocument,
    RecordExamination,
    RecordPermit,
)
from services.customs.domain.reactions import opened
from shared.contracts.base import DomainEvent
from shared.contracts.customs import (
    ClearanceCaseOpened,
    DeclarationLodged,
    DeclarationType,
    Document,
    DocumentRecorded,
    DocumentStatus,
    GoodsExamined,
    LaneAssigned,
    PermitRecorded,
)
from shared.contracts.values import Category
from shared.decider import InvalidInput, StateConflict

DECLARATION_DIGITS = 12
LICENSED = {Category.VACCINE, Category.DRUG}
"""Categories that need an import licence from the Drug Administration of Viet Nam."""


_ALL_DOCUMENTS = tuple(Document)
_NO_LICENCE = tuple(d for d in Document if d is not Document.IMPORT_LICENCE)


def required_documents(state: ClearanceCase) -> tuple[Document, ...]:
    """The checklist: the import licence only for vaccines and medicines."""
    licensed = any(line.category in LICENSED for line in state.lines)
    return _ALL_DOCUMENTS if licensed else _NO_LICENCE


_DONE = frozenset({DocumentStatus.RECEIVED, DocumentStatus.WAIVED})


def missing_documents(state: ClearanceCase) -> tuple[Document, ...]:
    recorded = state.documents
    return tuple(
        d for d in required_documents(state) if d not in recorded or recorded[d].status not in _DONE
    )


def workable(state: ClearanceCase) -> ClearanceCaseOpened:
    case = opened(state)
    if state.closure is not None:
        raise StateConflict(f"the case is closed ({state.closure.value})", code="case-closed")
    return case


def arrived(state: ClearanceCase) -> ClearanceCaseOpened:
    case = workable(state)
    if not state.parts:
        raise StateConflict("the goods have not arrived yet", code="not-arrived")
    return case


# -- the case's papers -------------------------------------------------------------------------


def lodge_declaration(command: LodgeDeclaration, state: ClearanceCase) -> list[DomainEvent]:
    case = workable(state)  # may precede arrival
    number = command.declaration_number.strip()
    if not (number.isascii() and number.isdigit() and len(number) == DECLARATION_DIGITS):
        raise InvalidInput(
            "a VNACCS declaration number has exactly 12 digits",
            field="declaration_number",
            code="bad-declaration-number",
        )
    provisional = command.declaration_type is DeclarationType.PROVISIONAL
    if provisional and command.completion_deadline is None:
        raise InvalidInput(
            "a provisional declaration needs its completion deadline",
            field="completion_deadline",
            code="no-deadline",
        )
    if not provisional and command.completion_deadline is not None:
        raise InvalidInput(
            "only a provisional declaration has a completion deadline",
            field="completion_deadline",
            code="deadline-not-provisional",
        )
    if command.completion_deadline is not None and command.completion_deadline < command.now.date():
        raise InvalidInput(
            "the completion deadline is in the past",
            field="completion_deadline",
            code="deadline-past",
        )
    return [
        DeclarationLodged(
            shipment_id=case.shipment_id,
            declaration_number=number,
            declaration_type=command.declaration_type,
            completion_deadline=command.completion_deadline,
            exemption_basis=command.exemption_basis,
            lodged_by=command.by,
            lodged_at=command.now,
        )
    ]


def record_document(command: RecordDocument, state: ClearanceCase) -> list[DomainEvent]:
    case = workable(state)
    if command.status is DocumentStatus.WAIVED and not command.reason.strip():
        raise InvalidInput("a waiver needs a reason", field="reason", code="no-reason")
    if command.document not in required_documents(state):
        raise InvalidInput(
            f"{command.document.value} is not on this consignment's checklist",
            field="document",
            code="not-on-checklist",
        )
    return [
        DocumentRecorded(
            shipment_id=case.shipment_id,
            document=command.document,
            status=command.status,
            reason=command.reason.strip(),
            recorded_by=command.by,
            recorded_at=command.now,
        )
    ]


def record_permit(command: RecordPermit, state: ClearanceCase) -> list[DomainEvent]:
    case = workable(state)
    if not command.agency.strip():
        raise InvalidInput("name the agency", field="agency", code="no-agency")
    return [
        PermitRecorded(
            shipment_id=case.shipment_id,
            agency=command.agency.strip(),
            status=command.status,
            reference=command.reference.strip(),
            recorded_by=command.by,
            recorded_at=command.now,
        )
    ]


def assign_lane(command: AssignLane, state: ClearanceCase) -> list[DomainEvent]:
    case = workable(state)
    return [
        LaneAssigned(
            shipment_id=case.shipment_id,
            lane=command.lane,
            assigned_by=command.by,
            assigned_at=command.now,
            out_of_hours=command.out_of_hours,
        )
    ]


def record_examination(command: RecordExamination, state: ClearanceCase) -> list[DomainEvent]:
    case = arrived(state)
    return [
        GoodsExamined(
            shipment_id=case.shipment_id,
            place=command.place,
            partial=command.partial,
            findings=command.findings,
            examined_by=command.by,
            examined_at=command.now,
        )
    ]
