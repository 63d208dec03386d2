"""A consignment's state as intake's rules see it, folded from its events."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from uuid import UUID

from shared.contracts.base import DomainEvent
from shared.contracts.intake import (
    ArrivalReportFiled,
    ShipmentAmended,
    ShipmentAnnounced,
    ShipmentArrivedV2,
    ShipmentCancelled,
    ShipmentClosed,
)
from shared.contracts.values import CountedLot, LineItem

# A line announced without lots (masks, ventilators) is received as one lot with this number.
NO_LOT = ""
# Airports and their cold stores keep Viet Nam time (UTC+7, no daylight saving): a lot that
# expires on a date is usable through that local day.
VIET_NAM = timezone(timedelta(hours=7), "ICT")


class ShipmentStatus(StrEnum):
    """A consignment's status, as the read model, the API filter and the pages name it."""

    ANNOUNCED = "announced"
    PARTIALLY_ARRIVED = "partially_arrived"  # one or more parts in, not closed yet
    ARRIVED = "arrived"  # closed: every part in, something accepted to clear
    NOTHING_TO_CLEAR = "closed_nothing_to_clear"  # closed with nothing accepted
    CANCELLED = "cancelled"


CLOSED = (ShipmentStatus.ARRIVED, ShipmentStatus.NOTHING_TO_CLEAR)


@dataclass(frozen=True)
class Part:
    """One arrival part (flight) as recorded."""

    part_no: int
    arrived_at: datetime
    lots: tuple[CountedLot, ...]
    flight: str = ""
    entered_cold_store_at: datetime | None = None


@dataclass(frozen=True)
class Tally:
    """One lot over all parts so far."""

    counted: int = 0
    accepted: int = 0
    expiry_date: date | None = None


@dataclass(frozen=True)
class Shipment:
    shipment_id: UUID | None = None
    status: ShipmentStatus | None = None  # None: not announced
    airport: str = ""
    airway_bill: str = ""
    lines: tuple[LineItem, ...] = ()
    parts: tuple[Part, ...] = ()
    reports: frozenset[tuple[int, int]] = frozenset()  # (part, line) of each VAR filed

    def line(self, line_no: int) -> LineItem | None:
        return next((line for line in self.lines if line.line_no == line_no), None)

    def part(self, part_no: int) -> Part | None:
        return next((part for part in self.parts if part.part_no == part_no), None)

    def tallies(self) -> dict[tuple[int, str], Tally]:
        """Counted and accepted units per (line, lot) over every part, in part order."""
        counted: dict[tuple[int, str], int] = defaultdict(int)
        accepted: dict[tuple[int, str], int] = defaultdict(int)
        expiry: dict[tuple[int, str], date | None] = {}
        for part in self.parts:
            for lot in part.lots:
                key = (lot.line_no, lot.lot_number)
                counted[key] += lot.counted
                accepted[key] += lot.accepted
                expiry[key] = expiry.get(key) or lot.expiry_date
        return {key: Tally(counted[key], accepted[key], expiry[key]) for key in counted}


def evolve(state: Shipment, event: DomainEvent) -> Shipment:
    match event:
        case ShipmentAnnounced():
            return Shipment(
                event.shipment_id,
                ShipmentStatus.ANNOUNCED,
                event.airport,
                event.airway_bill,
                event.lines,
            )
        case ShipmentAmended():
            return replace(state, lines=event.lines)
        case ShipmentArrivedV2():
            part = Part(
                event.part_no,
                event.arrived_at,
                event.lots,
                event.flight,
                event.entered_cold_store_at,
            )
            return replace(
                state, status=ShipmentStatus.PARTIALLY_ARRIVED, parts=(*state.parts, part)
            )
        case ArrivalReportFiled():
            return replace(state, reports=state.reports | {(event.part_no, event.line_no)})
        case ShipmentClosed():
            closed = ShipmentStatus.NOTHING_TO_CLEAR if event.nothing_to_clear else None
            return replace(state, status=closed or ShipmentStatus.ARRIVED)
        case ShipmentCancelled():
            return replace(state, status=ShipmentStatus.CANCELLED)
    return state
