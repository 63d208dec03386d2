"""The clearance case of one consignment, pure rules and no I/O: opened on announcement,
goods presented per arrival part, then worked by officers (declaration, documents, permits,
lane, examination, holds) until released (normal, partial, fast-track) or refused.

``case`` holds the state, ``reactions`` the rules for intake's events, ``papers`` and ``release``
those for officers' commands, ``lines`` turns units per lot into event lines, ``schedule`` the
office hours and clearance target."""

from __future__ import annotations

from services.customs.domain import papers, reactions, release
from services.customs.domain.case import (
    NO_LOT,
    CaseStatus,
    ClearanceCase,
    Hold,
    LotBalance,
    LotKey,
    evolve,
    held_lots,
    units_of,
)
from services.customs.domain.commands import (
    AmendCase,
    AssignLane,
    ClearFastTrack,
    CloseCase,
    Command,
    CompleteArrivals,
    LodgeDeclaration,
    OfficerCommand,
    OpenCase,
    PlaceHold,
    PresentGoods,
    Reaction,
    RecordDocument,
    RecordExamination,
    RecordPermit,
    RefuseGoods,
    ReleaseGoods,
    ReleaseHold,
)
from services.customs.domain.lines import lines_of, nearest_expiry
from services.customs.domain.papers import missing_documents, required_documents
from shared.contracts.base import DomainEvent
from shared.decider import Decider


def decide(command: Command, state: ClearanceCase) -> list[DomainEvent]:
    match command:
        case OpenCase():
            return reactions.open_case(command, state)
        case AmendCase():
            return reactions.amend_case(command, state)
        case PresentGoods():
            return reactions.present_goods(command, state)
        case CompleteArrivals():
            return reactions.complete_arrivals(command, state)
        case CloseCase():
            return reactions.close_case(command, state)
        case LodgeDeclaration():
            return papers.lodge_declaration(command, state)
        case RecordDocument():
            return papers.record_document(command, state)
        case RecordPermit():
            return papers.record_permit(command, state)
        case AssignLane():
            return papers.assign_lane(command, state)
        case RecordExamination():
            return papers.record_examination(command, state)
        case PlaceHold():
            return release.place_hold(command, state)
        case ReleaseHold():
            return release.release_hold(command, state)
        case ReleaseGoods():
            return release.release_goods(command, state)
        case RefuseGoods():
            return release.refuse_goods(command, state)
        case ClearFastTrack():
            return release.clear_fast_track(command, state)


decider: Decider[ClearanceCase, Command] = Decider(ClearanceCase(), evolve, decide)

__all__ = [
    "NO_LOT",
    "AmendCase",
    "AssignLane",
    "CaseStatus",
    "ClearFastTrack",
    "ClearanceCase",
    "CloseCase",
    "Command",
    "CompleteArrivals",
    "Hold",
    "LodgeDeclaration",
    "LotBalance",
    "LotKey",
    "OfficerCommand",
    "OpenCase",
    "PlaceHold",
    "PresentGoods",
    "Reaction",
    "RecordDocument",
    "RecordExamination",
    "RecordPermit",
    "RefuseGoods",
    "ReleaseGoods",
    "ReleaseHold",
    "decide",
    "decider",
    "evolve",
    "held_lots",
    "lines_of",
    "missing_documents",
    "nearest_expiry",
    "required_documents",
    "units_of",
]
