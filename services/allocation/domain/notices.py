"""The notices of a consignment: one per recipient and line of an approved round, then
acknowledged by the province (and, in the delivery module, dispatched and received)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType

from services.allocation.domain.state import ConsignmentAllocation, Notice
from shared.contracts.allocation import AllocatedToProvince, NoticeAcknowledged, NoticeDispatched
from shared.contracts.base import DomainEvent
from shared.decider import NotFound, NotPermitted


@dataclass(frozen=True)
class AcknowledgeNotice:
    notice_number: str
    province_code: str
    now: datetime


def notice_number_for(round_id: str, province_code: str, line_no: int) -> str:
    return f"{round_id}-{province_code}-{line_no}"


def evolve_notices(state: ConsignmentAllocation, event: DomainEvent) -> ConsignmentAllocation:
    match event:
        case AllocatedToProvince():
            return _with_notice(state, event.notice_number, Notice(event.province_code))
        case NoticeAcknowledged():
            acknowledged = replace(state.notices[event.notice_number], acknowledged=True)
            return _with_notice(state, event.notice_number, acknowledged)
        case NoticeDispatched() if event.notice_number in state.notices:
            dispatched = replace(state.notices[event.notice_number], dispatched=True)
            return _with_notice(state, event.notice_number, dispatched)
    return state


def _with_notice(
    state: ConsignmentAllocation, number: str, notice: Notice
) -> ConsignmentAllocation:
    return replace(state, notices=MappingProxyType({**state.notices, number: notice}))


def acknowledge(command: AcknowledgeNotice, state: ConsignmentAllocation) -> list[DomainEvent]:
    notice = state.notices.get(command.notice_number)
    if notice is None or state.shipment_id is None:
        raise NotFound(
            f"no notice {command.notice_number}", field="notice_number", code="notice-not-found"
        )
    if notice.province_code != command.province_code:
        raise NotPermitted(
            f"notice {command.notice_number} is not addressed to province {command.province_code}",
            field="province_code",
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
