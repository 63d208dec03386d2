"""The allocation of one consignment, pure rules and no I/O: its rounds (``rounds``), the
quantities moved in review (``changes``) and the notices sent on approval, then
acknowledged, dispatched and received (``notices``).
This module only dispatches each command and event to the module that owns it."""

from __future__ import annotations

from services.allocation.domain.drafting import draft, redraft
from services.allocation.domain.notices import (
    AcknowledgeNotice,
    DispatchNotice,
    ReceiveNotice,
    acknowledge,
    dispatch,
    evolve_notices,
    notice_number_for,
    receive,
)
from services.allocation.domain.reserve import release_reserve, reserve_stock
from services.allocation.domain.review import adjust, amend, approve
from services.allocation.domain.rounds import (
    AdjustRound,
    AmendRound,
    ApproveRound,
    DraftRound,
    RedraftRound,
    ReleaseReserve,
    evolve_rounds,
    round_id_for,
)
from services.allocation.domain.state import (
    ConsignmentAllocation,
    Notice,
    NoticeStatus,
    Round,
    RoundStatus,
)
from shared.contracts.base import DomainEvent
from shared.decider import Decider

Command = (
    DraftRound
    | RedraftRound
    | AdjustRound
    | ApproveRound
    | AmendRound
    | ReleaseReserve
    | AcknowledgeNotice
    | DispatchNotice
    | ReceiveNotice
)

__all__ = [
    "AcknowledgeNotice",
    "AdjustRound",
    "AmendRound",
    "ApproveRound",
    "Command",
    "ConsignmentAllocation",
    "DispatchNotice",
    "DraftRound",
    "Notice",
    "NoticeStatus",
    "ReceiveNotice",
    "RedraftRound",
    "ReleaseReserve",
    "Round",
    "RoundStatus",
    "decide",
    "decider",
    "evolve",
    "notice_number_for",
    "reserve_stock",
    "round_id_for",
]


def evolve(state: ConsignmentAllocation, event: DomainEvent) -> ConsignmentAllocation:
    return evolve_notices(evolve_rounds(state, event), event)


def decide(command: Command, state: ConsignmentAllocation) -> list[DomainEvent]:
    match command:
        case DraftRound():
            return draft(command, state)
        case RedraftRound():
            return redraft(command, state)
        case AdjustRound():
            return adjust(command, state)
        case ApproveRound():
            return approve(command, state)
        case AmendRound():
            return amend(command, state)
        case ReleaseReserve():
            return release_reserve(command, state)
        case AcknowledgeNotice():
            return acknowledge(command, state)
        case DispatchNotice():
            return dispatch(command, state)
        case ReceiveNotice():
            return receive(command, state)


decider: Decider[ConsignmentAllocation, Command] = Decider(ConsignmentAllocation(), evolve, decide)
