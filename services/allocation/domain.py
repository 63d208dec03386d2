"""The allocation of one consignment: a round decided by policy, one notice per province and
line, acknowledged by each province. Pure rules, no I/O.

The provinces are the project's reference data (``shared.reference_data``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Protocol
from uuid import UUID

from services.allocation import notices
from services.allocation.notices import DispatchNotice, Notice, NoticeStatus, ReceiveNotice
from services.allocation.policy import POLICY, RESERVE, allocate, assign_lots
from shared.contracts.allocation import (
    AllocatedToProvince,
    AllocationRoundDecided,
    LineAllocation,
    RecipientShare,
)
from shared.contracts.base import DomainEvent
from shared.contracts.customs import ClearedFastTrack
from shared.contracts.rules import check_lots_add_up
from shared.contracts.values import LineItem, Lot
from shared.decider import Decider, InvalidInput


class Recipient(Protocol):
    """What the policy needs to know of a recipient; any province record with these fits."""

    @property
    def code(self) -> str: ...

    @property
    def population_scale(self) -> int: ...


@dataclass(frozen=True)
class DecideRound:
    cleared: ClearedFastTrack
    provinces: tuple[Recipient, ...]
    now: datetime


@dataclass(frozen=True)
class AcknowledgeNotice:
    notice_number: str
    province_code: str
    now: datetime


Command = DecideRound | AcknowledgeNotice | DispatchNotice | ReceiveNotice
__all__ = ["Notice", "NoticeStatus"]


@dataclass(frozen=True)
class ConsignmentAllocation:
    shipment_id: UUID | None = None
    round_id: str | None = None
    notices: Mapping[str, Notice] = field(default_factory=lambda: MappingProxyType({}))


def evolve(state: ConsignmentAllocation, event: DomainEvent) -> ConsignmentAllocation:
    match event:
        case AllocationRoundDecided():
            return replace(state, shipment_id=event.shipment_id, round_id=event.round_id)
    number = getattr(event, "notice_number", None)
    if isinstance(number, str):  # the notice's lifecycle: services.allocation.notices
        notice = notices.evolve_notice(state.notices.get(number), event)
        if notice is not None:
            return _with_notice(state, number, notice)
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
        case DispatchNotice():
            return notices.dispatch(state.notices, state.shipment_id, command)
        case ReceiveNotice():
            return notices.receive(state.notices, state.shipment_id, command)


# --- the round ------------------------------------------------------------------------------


def round_id_for(shipment_id: UUID) -> str:
    """Stable for the consignment and as unique as it: the whole shipment id, never a prefix
    (8 hex digits made two HAN airway bills share a round id)."""
    return "R-" + shipment_id.hex.upper()


def notice_number_for(round_id: str, province_code: str, line_no: int) -> str:
    return f"{round_id}-{province_code}-{line_no}"


def decide_round(command: DecideRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    if state.round_id is not None:
        return []  # already allocated: the clearance was delivered again
    weights = _weights(command.provinces)
    cleared = command.cleared
    round_id = round_id_for(cleared.shipment_id)
    lines: list[LineAllocation] = []
    notices: list[DomainEvent] = []
    for index, line in enumerate(cleared.lines):
        # Customs builds lines this way; one that does not add up would lose doses in FEFO.
        check_lots_add_up(line, f"cleared/lines/{index}")
        summary, line_notices = _allocate_line(cleared, round_id, line, weights)
        lines.append(summary)
        notices += line_notices
    decided = AllocationRoundDecided(
        shipment_id=cleared.shipment_id,
        round_id=round_id,
        policy=POLICY,
        decided_at=command.now,
        lines=tuple(lines),
    )
    return [decided, *notices]


def _weights(recipients: tuple[Recipient, ...]) -> dict[str, int]:
    weights = {r.code: r.population_scale for r in recipients}
    if len(weights) != len(recipients):  # a duplicate would silently drop a province's share
        raise InvalidInput("a province is listed twice", field="provinces")
    return weights


def _allocate_line(
    cleared: ClearedFastTrack, round_id: str, line: LineItem, weights: Mapping[str, int]
) -> tuple[LineAllocation, list[DomainEvent]]:
    allocation = allocate(line.quantity, line.pack_size, weights)
    units = {code: q for code, q in sorted(allocation.shares.items()) if q > 0}
    lots = assign_lots(units, line.lots) if line.lots else {}
    summary = LineAllocation(
        line_no=line.line_no,
        product=line.product,
        unit=line.unit,
        pack_size=line.pack_size,
        cleared_quantity=line.quantity,
        shares=tuple(
            RecipientShare(recipient_code=code, quantity=q, packs=allocation.packs[code])
            for code, q in units.items()
        ),
        reserve_quantity=allocation.reserve,
        reserve_lots=lots.get(RESERVE, ()),
    )
    notices: list[DomainEvent] = [
        _notice(cleared, round_id, line, code, allocation.packs[code], lots.get(code, ()))
        for code in units
    ]
    return summary, notices


def _notice(
    cleared: ClearedFastTrack,
    round_id: str,
    line: LineItem,
    code: str,
    packs: int,
    lots: tuple[Lot, ...],
) -> AllocatedToProvince:
    return AllocatedToProvince(
        shipment_id=cleared.shipment_id,
        notice_number=notice_number_for(round_id, code, line.line_no),
        round_id=round_id,
        province_code=code,
        line_no=line.line_no,
        product=line.product,
        unit=line.unit,
        pack_size=line.pack_size,
        quantity=packs * line.pack_size,
        packs=packs,
        lots=lots,
        released_at=cleared.cleared_at,  # the fast-track clearance releases the goods
    )


# --- acknowledgement ------------------------------------------------------------------------


def acknowledge(command: AcknowledgeNotice, state: ConsignmentAllocation) -> list[DomainEvent]:
    return notices.acknowledge(
        state.notices, state.shipment_id, command.notice_number, command.province_code, command.now
    )


decider: Decider[ConsignmentAllocation, Command] = Decider(ConsignmentAllocation(), evolve, decide)
