"""The consignment as intake sees it: announced (and perhaps amended or cancelled), arriving
in one or more inspected parts, closed. Pure rules, no I/O.

Each use case's rules live in ``services.intake.rules``; this module names the commands,
folds the state and dispatches. Commands carry ``now`` so that every rule is judged against
the caller's clock, never ours. The airports are the project's reference data
(``shared.reference_data``).
"""

from __future__ import annotations

from services.intake.rules.announcement import (
    ARRIVAL_WINDOW,
    CLOCK_SKEW,
    SHELF_LIFE_WINDOW,
    AmendShipment,
    AnnounceShipment,
    CancelShipment,
    amend,
    announce,
    cancel,
)
from services.intake.rules.closing import CloseShipment, close
from services.intake.rules.inspection import (
    AIRPORT_REJECTIONS,
    LotCount,
    RecordInspection,
    inspect,
)
from services.intake.rules.one_shot import RecordArrival, record_arrival
from services.intake.rules.reports import VAR_DUE, FileArrivalReport, ReportSections, file_report
from services.intake.rules.shelf_life import DEFAULT_MINIMUM_DAYS, ShelfLifePolicy
from services.intake.rules.state import NO_LOT, Shipment, ShipmentStatus, evolve
from shared.contracts.base import DomainEvent
from shared.decider import Decider
from shared.reference_data import airports

Command = (
    AnnounceShipment
    | AmendShipment
    | CancelShipment
    | RecordArrival
    | RecordInspection
    | FileArrivalReport
    | CloseShipment
)


def decide(command: Command, state: Shipment) -> list[DomainEvent]:
    match command:
        case AnnounceShipment():
            return announce(command, state)
        case AmendShipment():
            return amend(command, state)
        case CancelShipment():
            return cancel(command, state)
        case RecordArrival():
            return record_arrival(command, state)
        case RecordInspection():
            return inspect(command, state)
        case FileArrivalReport():
            return list(file_report(command, state))
        case CloseShipment():
            return list(close(command, state))


decider: Decider[Shipment, Command] = Decider(Shipment(), evolve, decide)

__all__ = [
    "AIRPORT_REJECTIONS",
    "ARRIVAL_WINDOW",
    "CLOCK_SKEW",
    "DEFAULT_MINIMUM_DAYS",
    "NO_LOT",
    "SHELF_LIFE_WINDOW",
    "VAR_DUE",
    "AmendShipment",
    "AnnounceShipment",
    "CancelShipment",
    "CloseShipment",
    "Command",
    "FileArrivalReport",
    "LotCount",
    "RecordArrival",
    "RecordInspection",
    "ReportSections",
    "ShelfLifePolicy",
    "Shipment",
    "ShipmentStatus",
    "airports",
    "decide",
    "decider",
    "evolve",
]
