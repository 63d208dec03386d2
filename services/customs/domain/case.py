"""The state of a clearance case, folded from its events, and what it says per lot.

Per lot the units presented (accepted by intake, all parts together) split into released,
refused, held and free: ``released + refused + held + free = presented``, all non-negative.
``held`` is what open holds cover (everything left when a hold covers the whole case);
only ``free`` units may be released.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property

from shared.contracts.base import DomainEvent
from shared.contracts.customs import (
    ArrivalsCompleted,
    CaseClosure,
    ClearanceCaseAmended,
    ClearanceCaseClosed,
    ClearanceCaseOpened,
    ClearedFastTrack,
    DeclarationLodged,
    Document,
    DocumentRecorded,
    GoodsExamined,
    GoodsPresentedV2,
    GoodsRefused,
    GoodsReleased,
    HeldLot,
    HoldPlaced,
    HoldReleased,
    LaneAssigned,
    PermitRecorded,
)
from shared.contracts.values import LineItem, Priority

# Intake records a line announced without lots (masks, ventilators) as one lot with this number.
NO_LOT = ""

LotKey = tuple[int, str]
"""(line number, lot number) of one lot of a consignment."""


class CaseStatus(StrEnum):
    """A clearance case's status, as the read model, the API filter and the queue name it."""

    AWAITING_ARRIVAL = "awaiting_arrival"
    ARRIVED = "arrived"  # something presented is neither released nor refused
    CLEARED = "cleared"  # everything presented so far is released or refused
    CLOSED = "closed"  # completed, cancelled, or nothing to clear


@dataclass(frozen=True)
class LotBalance:
    presented: int = 0
    released: int = 0
    refused: int = 0

    @property
    def remaining(self) -> int:
        """Neither released nor refused: held or free."""
        return self.presented - self.released - self.refused


_NOTHING = LotBalance()


@dataclass(frozen=True)
class Hold:
    hold_id: str
    event: HoldPlaced
    released: HoldReleased | None = None

    @property
    def open(self) -> bool:
        return self.released is None

    @property
    def whole_case(self) -> bool:
        return not self.event.lots


@dataclass(frozen=True)
class ClearanceCase:
    opened: ClearanceCaseOpened | None = None  # None: no case opened
    lines: tuple[LineItem, ...] = ()  # as announced, or as last amended
    priority: Priority = Priority.ROUTINE  # likewise
    parts: frozenset[int] = frozenset()
    arrived_at: datetime | None = None  # of the first part
    ledger: dict[LotKey, LotBalance] = field(default_factory=dict)
    expiries: dict[LotKey, date] = field(default_factory=dict)
    declaration: DeclarationLodged | None = None
    documents: dict[Document, DocumentRecorded] = field(default_factory=dict)
    permits: dict[str, PermitRecorded] = field(default_factory=dict)
    lane: LaneAssigned | None = None
    examination: GoodsExamined | None = None
    holds: tuple[Hold, ...] = ()
    releases: int = 0
    cleared_at: datetime | None = None  # when nothing was left to release or refuse
    fast_track: ClearedFastTrack | None = None
    arrivals_completed: bool = False
    closure: CaseClosure | None = None
    closed_at: datetime | None = None

    # -- what the state says ---------------------------------------------------------------

    @property
    def status(self) -> CaseStatus | None:
        if self.opened is None:
            return None
        if self.closure is not None:
            return CaseStatus.CLOSED
        if not self.parts:
            return CaseStatus.AWAITING_ARRIVAL
        if self.presented_total > 0 and self.remaining_total == 0:
            return CaseStatus.CLEARED
        return CaseStatus.ARRIVED

    @property
    def presented_total(self) -> int:
        return sum(b.presented for b in self.ledger.values())

    @property
    def remaining_total(self) -> int:
        return sum(b.remaining for b in self.ledger.values())

    @property
    def released_total(self) -> int:
        return sum(b.released for b in self.ledger.values())

    def open_holds(self) -> tuple[Hold, ...]:
        return tuple(h for h in self.holds if h.open)

    def whole_case_hold(self) -> Hold | None:
        return next((h for h in self.open_holds() if h.whole_case), None)

    def held(self, key: LotKey) -> int:
        return self._held.get(key, 0)

    def free(self, key: LotKey) -> int:
        """Units of a lot that may be released now: presented, not released, refused or held."""
        return self.ledger.get(key, _NOTHING).remaining - self.held(key)

    @cached_property
    def _held(self) -> dict[LotKey, int]:
        """Units held per lot, worked out once per state (its pages ask for every lot):
        everything left under a whole-case hold, else what the open holds cover, at most
        what is left of the lot."""
        holds = self.open_holds()
        if any(h.whole_case for h in holds):
            return {k: b.remaining for k, b in self.ledger.items()}
        covered: dict[LotKey, int] = {}
        for hold in holds:
            for lot in hold.event.lots:
                key = (lot.line_no, lot.lot_number)
                covered[key] = covered.get(key, 0) + lot.quantity
        return {k: min(self.ledger.get(k, _NOTHING).remaining, q) for k, q in covered.items()}


# -- evolve ----------------------------------------------------------------------------------


def evolve(state: ClearanceCase, event: DomainEvent) -> ClearanceCase:
    match event:
        case ClearanceCaseOpened():
            return ClearanceCase(opened=event, lines=event.lines, priority=event.priority)
        case ClearanceCaseAmended():
            return replace(state, lines=event.lines, priority=event.priority or state.priority)
        case GoodsPresentedV2():
            return _presented(state, event)
        case DeclarationLodged():
            return replace(state, declaration=event)
        case DocumentRecorded():
            return replace(state, documents=state.documents | {event.document: event})
        case PermitRecorded():
            return replace(state, permits=state.permits | {event.agency: event})
        case LaneAssigned():
            return replace(state, lane=event)
        case GoodsExamined():
            return replace(state, examination=event)
        case HoldPlaced():
            return replace(state, holds=(*state.holds, Hold(event.hold_id, event)))
        case HoldReleased():
            holds = tuple(
                replace(h, released=event) if h.hold_id == event.hold_id else h for h in state.holds
            )
            return replace(state, holds=holds)
        case GoodsReleased():
            released = _moved(state, event.lines, "released", event.released_at)
            return replace(released, releases=event.release_no)
        case ClearedFastTrack():
            cleared = _moved(state, event.lines, "released", event.cleared_at)
            return replace(cleared, fast_track=event)
        case GoodsRefused():
            return _moved(state, event.lines, "refused", event.refused_at)
        case ArrivalsCompleted():
            return replace(state, arrivals_completed=True)
        case ClearanceCaseClosed():
            return replace(state, closure=event.closure, closed_at=event.closed_at)
    return state


def _presented(state: ClearanceCase, event: GoodsPresentedV2) -> ClearanceCase:
    ledger = dict(state.ledger)
    for lot in event.received:
        key = (lot.line_no, lot.lot_number)
        before = ledger.get(key, LotBalance())
        ledger[key] = replace(before, presented=before.presented + lot.quantity)
    expiries = state.expiries | {(e.line_no, e.lot_number): e.expiry_date for e in event.expiries}
    first = min(filter(None, (state.arrived_at, event.arrived_at)))
    return replace(
        state,
        parts=state.parts | {event.part_no},
        arrived_at=first,
        ledger=ledger,
        expiries=expiries,
        cleared_at=state.cleared_at if not any(x.quantity for x in event.received) else None,
    )


def units_of(lines: tuple[LineItem, ...]) -> dict[LotKey, int]:
    """The units per lot that event lines carry (a line without lots is one ``NO_LOT`` lot)."""
    units: dict[LotKey, int] = {}
    for line in lines:
        if not line.lots:
            units[(line.line_no, NO_LOT)] = line.quantity
        for lot in line.lots:
            units[(line.line_no, lot.lot_number)] = lot.quantity
    return units


def _moved(
    state: ClearanceCase, lines: tuple[LineItem, ...], to: str, at: datetime
) -> ClearanceCase:
    ledger = dict(state.ledger)
    for key, quantity in units_of(lines).items():
        before = ledger.get(key, LotBalance())
        ledger[key] = replace(before, **{to: getattr(before, to) + quantity})
    moved = replace(state, ledger=ledger)
    if moved.remaining_total == 0 and moved.cleared_at is None:
        moved = replace(moved, cleared_at=at)
    return moved


def held_lots(state: ClearanceCase) -> tuple[HeldLot, ...]:
    """What is held now, per lot (for the case page and the API)."""
    return tuple(
        HeldLot(line_no=key[0], lot_number=key[1], quantity=held)
        for key in state.ledger
        if (held := state.held(key)) > 0
    )
