"""The allocation of one consignment: a round decided by policy, one notice per province and
line, acknowledged by each province. Pure rules, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from uuid import UUID

from services.allocation.policy import POLICY, allocate, assign_lots
from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDecided,
    LineAllocation,
    NoticeAcknowledged,
    RecipientShare,
)
from shared.contracts.base import DomainEvent
from shared.contracts.customs import ClearedFastTrack
from shared.contracts.values import LineItem
from shared.decider import Decider, Forbidden, NotFound
from shared.reference_data import Province


@dataclass(frozen=True)
class DecideRound:
    cleared: ClearedFastTrack
    provinces: tuple[Province, ...]
    now: datetime


@dataclass(frozen=True)
class AcknowledgeNotice:
    notice_number: str
    province_code: str
    now: datetime


Command = DecideRound | AcknowledgeNotice


@dataclass(frozen=True)
class Notice:
    province_code: str
    acknowledged: bool = False


@dataclass(frozen=True)
class ConsignmentAllocation:
    shipment_id: UUID | None = None
    round_id: str | None = None
    notices: Mapping[str, Notice] = field(default_factory=lambda: MappingProxyType({}))


def evolve(state: ConsignmentAllocation, event: DomainEvent) -> ConsignmentAllocation:
    match event:
        case AllocationRoundDecided():
            return replace(state, shipment_id=event.shipment_id, round_id=event.round_id)
        case AllocatedToProvince():
            return _with_notice(state, event.notice_number, Notice(event.province_code))
        case NoticeAcknowledged():
            acknowledged = replace(state.notices[event.notice_number], acknowledged=True)
            return _with_notice(state, event.notice_number, acknowledged)
    return state


def _with_notice(
    state: ConsignmentAllocation, number: str, notice: Notice
) -> ConsignmentAllocation:
    return replace(state, notices=MappingProxyType({**state.notices, number: notice}))


def decide(command: Command, state: ConsignmentAllocation) -> list[DomainEvent]:
    match command:
        case DecideRound():
            return decide_round(command, state)
        case AcknowledgeNotice():
            return acknowledge(command, state)


def round_id_for(cleared: ClearedFastTrack) -> str:
    return "R-" + cleared.shipment_id.hex[:8].upper()


def decide_round(command: DecideRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    if state.round_id is not None:
        return []  # already allocated: the clearance was delivered again
    cleared, round_id = command.cleared, round_id_for(command.cleared)
    weights = {p.code: p.population_scale for p in command.provinces}
    lines: list[LineAllocation] = []
    notices: list[DomainEvent] = []
    for line in cleared.lines:
        allocation, line_notices = _allocate_line(cleared, round_id, line, weights)
        lines.append(allocation)
        notices += line_notices
    decided = AllocationRoundDecided(
        shipment_id=cleared.shipment_id,
        round_id=round_id,
        policy=POLICY,
        decided_at=command.now,
        lines=tuple(lines),
    )
    return [decided, *notices]


def _allocate_line(
    cleared: ClearedFastTrack, round_id: str, line: LineItem, weights: Mapping[str, int]
) -> tuple[LineAllocation, list[DomainEvent]]:
    allocation = allocate(line.quantity, line.pack_size, weights)
    units = {code: allocation.units(code) for code in sorted(allocation.packs)}
    units = {code: quantity for code, quantity in units.items() if quantity > 0}
    lots, _reserve_lots = assign_lots(units, line.lots) if line.lots else ({}, ())
    shares = tuple(
        RecipientShare(recipient_code=code, quantity=q, packs=allocation.packs[code])
        for code, q in units.items()
    )
    summary = LineAllocation(
        line_no=line.line_no,
        product=line.product,
        unit=line.unit,
        pack_size=line.pack_size,
        cleared_quantity=line.quantity,
        shares=shares,
        reserve_quantity=allocation.reserve,
    )
    notices: list[DomainEvent] = [
        AllocatedToProvince(
            shipment_id=cleared.shipment_id,
            notice_number=f"{round_id}-{code}-{line.line_no}",
            round_id=round_id,
            province_code=code,
            line_no=line.line_no,
            product=line.product,
            unit=line.unit,
            pack_size=line.pack_size,
            quantity=quantity,
            packs=allocation.packs[code],
            lots=lots.get(code, ()),
        )
        for code, quantity in units.items()
    ]
    return summary, notices


def acknowledge(command: AcknowledgeNotice, state: ConsignmentAllocation) -> list[DomainEvent]:
    notice = state.notices.get(command.notice_number)
    if notice is None or state.shipment_id is None:
        raise NotFound(f"no notice {command.notice_number}", code="notice-not-found")
    if notice.province_code != command.province_code:
        raise Forbidden(
            f"notice {command.notice_number} is not addressed to province {command.province_code}",
            code="other-province",
        )
    if notice.acknowledged:
        return []  # a retry: already acknowledged
    return [
        NoticeAcknowledged(
            shipment_id=state.shipment_id,
            notice_number=command.notice_number,
            province_code=command.province_code,
            acknowledged_at=command.now,
        )
    ]


decider: Decider[ConsignmentAllocation, Command] = Decider(ConsignmentAllocation(), evolve, decide)
