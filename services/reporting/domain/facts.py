"""What reporting knows of one consignment, folded from the events of all three services.

``evolve`` is pure and tolerant of order across services: reporting reads three topics, so a
notice may be seen before the release it came from. Every fact is kept under its own key
(part, hold, round, notice) and the picture (stage, lead times) is derived from the facts,
never from the order in which they came.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.contracts import allocation as a
from shared.contracts import customs as c
from shared.contracts import intake as i
from shared.contracts.base import DomainEvent
from shared.contracts.values import Category, Channel, CountedLot, LineItem, Unit


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True)


class Line(Fact):
    product: str
    category: Category
    unit: Unit
    quantity: int


class Rejected(Fact):
    """Units not accepted, where and why (airport, customs or province)."""

    where: str  # "airport", "customs" or a province code
    line_no: int
    reason: str
    quantity: int
    note: str = ""


class Part(Fact):
    part_no: int
    arrived_at: datetime
    accepted: dict[int, int]  # units accepted per line
    vaccine_lines: tuple[int, ...] = ()  # lines whose Vaccine Arrival Report is due
    rejected: tuple[Rejected, ...] = ()


class Round(Fact):
    round_id: str
    drafted_at: datetime | None = None
    approved_at: datetime | None = None
    approved_by: str = ""
    decision_number: str = ""


class Notice(Fact):
    notice_number: str
    province_code: str = ""
    line_no: int = 0
    product: str = ""
    unit: Unit | None = None
    quantity: int = 0
    allocated_at: datetime | None = None
    acknowledged_at: datetime | None = None
    dispatched_at: datetime | None = None
    received_at: datetime | None = None
    accepted: int | None = None  # units the province accepted on receipt
    rejected: tuple[Rejected, ...] = ()


class Consignment(Fact):
    """The folded facts of one consignment; every field has a default so any event may come
    first."""

    shipment_id: str
    donor: str = ""
    channel: Channel | None = None
    airport: str = ""
    flight: str = ""
    airway_bill: str = ""
    expected_arrival: datetime | None = None
    announced_at: datetime | None = None
    lines: dict[int, Line] = {}
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    parts: dict[int, Part] = {}
    reports_filed: frozenset[tuple[int, int]] = frozenset()  # (part_no, line_no) of each VAR
    closed_at: datetime | None = None
    case_opened_at: datetime | None = None
    lane: str = ""
    declaration_number: str = ""
    open_holds: frozenset[str] = frozenset()
    examined_at: datetime | None = None
    released_at: datetime | None = None
    released: dict[int, int] = {}  # units released per line, all releases together
    refused_at: datetime | None = None
    refusals: tuple[Rejected, ...] = ()
    rounds: dict[str, Round] = {}
    notices: dict[str, Notice] = {}

    @property
    def first_arrival(self) -> datetime | None:
        return min((p.arrived_at for p in self.parts.values()), default=None)


def _lines(items: tuple[LineItem, ...]) -> dict[int, Line]:
    return {
        item.line_no: Line(
            product=item.product, category=item.category, unit=item.unit, quantity=item.quantity
        )
        for item in items
    }


def _earliest(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new < current else current


def _accepted(lots: tuple[CountedLot, ...]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for lot in lots:
        totals[lot.line_no] = totals.get(lot.line_no, 0) + lot.accepted
    return totals


def _rejections(where: str, lots: tuple[CountedLot, ...]) -> tuple[Rejected, ...]:
    return tuple(
        Rejected(
            where=where,
            line_no=lot.line_no,
            reason=r.reason.value,
            quantity=r.quantity,
            note=r.note,
        )
        for lot in lots
        for r in lot.rejections
    )


def _with_notice(state: Consignment, number: str, **changes: Any) -> Consignment:
    notice = state.notices.get(number) or Notice(notice_number=number)
    return state.model_copy(
        update={"notices": {**state.notices, number: notice.model_copy(update=changes)}}
    )


def _with_round(state: Consignment, round_id: str, **changes: Any) -> Consignment:
    current = state.rounds.get(round_id) or Round(round_id=round_id)
    return state.model_copy(
        update={"rounds": {**state.rounds, round_id: current.model_copy(update=changes)}}
    )


def _announced(state: Consignment, e: i.ShipmentAnnounced | i.ShipmentAmended) -> Consignment:
    return state.model_copy(
        update={
            "donor": e.donor,
            "channel": e.channel,
            "flight": e.flight,
            "airway_bill": e.airway_bill,
            "expected_arrival": e.expected_arrival,
            "lines": _lines(e.lines),
        }
    )


def _arrived(state: Consignment, e: i.ShipmentArrivedV2) -> Consignment:
    vaccines = tuple(
        n
        for n in sorted(_accepted(e.lots))
        if (line := state.lines.get(n)) is None or line.category is Category.VACCINE
    )
    part = Part(
        part_no=e.part_no,
        arrived_at=e.arrived_at,
        accepted=_accepted(e.lots),
        vaccine_lines=vaccines,
        rejected=_rejections("airport", e.lots),
    )
    return state.model_copy(
        update={"airport": state.airport or e.airport, "parts": {**state.parts, e.part_no: part}}
    )


def _presented(state: Consignment, e: c.GoodsPresentedV2) -> Consignment:
    """Today's intake publishes no arrival part with lots: customs' presentation stands in."""
    if e.part_no in state.parts:
        return state
    accepted: dict[int, int] = {}
    for lot in e.received:
        accepted[lot.line_no] = accepted.get(lot.line_no, 0) + lot.quantity
    part = Part(part_no=e.part_no, arrived_at=e.arrived_at, accepted=accepted)
    return state.model_copy(update={"parts": {**state.parts, e.part_no: part}})


def _released(state: Consignment, at: datetime, lines: tuple[LineItem, ...]) -> Consignment:
    released = dict(state.released)
    for line in lines:
        released[line.line_no] = released.get(line.line_no, 0) + line.quantity
    return state.model_copy(
        update={"released_at": _earliest(state.released_at, at), "released": released}
    )


def _case_opened(state: Consignment, e: c.ClearanceCaseOpened, at: datetime) -> Consignment:
    """Customs repeats the announcement: used when intake's own events were not seen."""
    return state.model_copy(
        update={
            "case_opened_at": at,
            "donor": state.donor or e.donor,
            "channel": state.channel or e.channel,
            "airport": state.airport or e.airport,
            "airway_bill": state.airway_bill or e.airway_bill,
            "expected_arrival": state.expected_arrival or e.expected_arrival,
            "lines": state.lines or _lines(e.lines),
        }
    )


def _refused(state: Consignment, e: c.GoodsRefused) -> Consignment:
    refusals = tuple(
        Rejected(
            where="customs",
            line_no=line.line_no,
            reason=f"{e.outcome.value}: {e.reason}",
            quantity=line.quantity,
        )
        for line in e.lines
    )
    return state.model_copy(
        update={
            "refused_at": _earliest(state.refused_at, e.refused_at),
            "refusals": state.refusals + refusals,
        }
    )


def _allocated(state: Consignment, e: a.AllocatedToProvince, at: datetime) -> Consignment:
    state = _with_notice(
        state,
        e.notice_number,
        province_code=e.province_code,
        line_no=e.line_no,
        product=e.product,
        unit=e.unit,
        quantity=e.quantity,
        allocated_at=at,
    )
    if e.released_at is not None:
        state = state.model_copy(
            update={"released_at": _earliest(state.released_at, e.released_at)}
        )
    # Legacy rounds are decided and approved at once; the notice is their approval.
    current = state.rounds.get(e.round_id)
    if current is None or current.approved_at is None:
        state = _with_round(
            state, e.round_id, approved_at=at, decision_number=e.decision_number or ""
        )
    return state


def _received(state: Consignment, e: a.NoticeReceived) -> Consignment:
    return _with_notice(
        state,
        e.notice_number,
        province_code=e.province_code,
        received_at=e.received_at,
        accepted=sum(lot.accepted for lot in e.lots),
        rejected=_rejections(e.province_code, e.lots),
    )


def evolve(state: Consignment, event: DomainEvent, recorded_at: datetime) -> Consignment:
    """The consignment after ``event`` (recorded at ``recorded_at``, its ``ce_time``)."""
    match event:
        case i.ShipmentAnnounced():
            return _announced(state, event).model_copy(
                update={"airport": event.airport, "announced_at": recorded_at}
            )
        case i.ShipmentAmended():
            return _announced(state, event)
        case i.ShipmentCancelled():
            return state.model_copy(
                update={"cancelled_at": event.cancelled_at, "cancel_reason": event.reason}
            )
        case i.ShipmentArrivedV2():
            return _arrived(state, event)
        case i.ArrivalReportFiled():
            filed = state.reports_filed | {(event.part_no, event.line_no)}
            return state.model_copy(update={"reports_filed": filed})
        case i.ShipmentClosed():
            return state.model_copy(update={"closed_at": event.closed_at})
        case c.ClearanceCaseOpened():
            return _case_opened(state, event, recorded_at)
        case c.GoodsPresentedV2():
            return _presented(state, event)
        case c.DeclarationLodged():
            return state.model_copy(update={"declaration_number": event.declaration_number})
        case c.LaneAssigned():
            return state.model_copy(update={"lane": event.lane.value})
        case c.GoodsExamined():
            return state.model_copy(update={"examined_at": event.examined_at})
        case c.HoldPlaced():
            return state.model_copy(update={"open_holds": state.open_holds | {event.hold_id}})
        case c.HoldReleased():
            return state.model_copy(update={"open_holds": state.open_holds - {event.hold_id}})
        case c.ClearedFastTrack():
            state = state.model_copy(
                update={
                    "lane": event.lane.value,
                    "declaration_number": event.declaration_number,
                }
            )
            return _released(state, event.cleared_at, event.lines)
        case c.GoodsReleased():
            state = state.model_copy(update={"declaration_number": event.declaration_number})
            return _released(state, event.released_at, event.lines)
        case c.GoodsRefused():
            return _refused(state, event)
        case a.AllocationRoundDecided():
            return _with_round(state, event.round_id, approved_at=event.decided_at)
        case a.AllocationRoundDrafted():
            return _with_round(state, event.round_id, drafted_at=event.drafted_at)
        case a.RoundApproved():
            return _with_round(
                state,
                event.round_id,
                approved_at=event.approved_at,
                approved_by=event.approved_by,
                decision_number=event.decision_number,
            )
        case a.AllocatedToProvince():
            return _allocated(state, event, recorded_at)
        case a.NoticeAmended():
            return _with_notice(
                state,
                event.notice_number,
                province_code=event.province_code,
                quantity=event.quantity,
            )
        case a.NoticeAcknowledged():
            return _with_notice(state, event.notice_number, acknowledged_at=event.acknowledged_at)
        case a.NoticeDispatched():
            return _with_notice(state, event.notice_number, dispatched_at=event.dispatched_at)
        case a.NoticeReceived():
            return _received(state, event)
    return state  # events that change nothing reporting shows (documents, permits, ...)


def new_consignment(shipment_id: str) -> Consignment:
    return Consignment(shipment_id=shipment_id)
