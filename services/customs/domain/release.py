"""Rules for what happens to the goods: holds, release (normal, partial, fast-track) and
refusal. Release never exceeds what is free per lot (presented, not released, refused or
held). Lanes: green releases on the documents as lodged, yellow once every required
document is received or waived, red once a physical examination is recorded."""

from datetime import datetime

from services.customs.domain.case import CaseStatus, ClearanceCase, LotKey, evolve
from services.customs.domain.commands import (
    ClearFastTrack,
    PlaceHold,
    RefuseGoods,
    ReleaseGoods,
    ReleaseHold,
)
from services.customs.domain.lines import lines_of
from services.customs.domain.papers import arrived, missing_documents, workable
from services.customs.domain.reactions import closed, opened
from shared.contracts.base import DomainEvent
from shared.contracts.customs import (
    MAX_HOLDS,
    CaseClosure,
    ClearedFastTrack,
    GoodsRefused,
    GoodsReleased,
    HeldLot,
    HoldPlaced,
    HoldReleased,
    Lane,
)
from shared.decider import InvalidInput, NotFound, StateConflict

MAX_RELEASES = 1000
"""``GoodsReleased.release_no`` is at most this."""

# -- holds ---------------------------------------------------------------------------------


def place_hold(command: PlaceHold, state: ClearanceCase) -> list[DomainEvent]:
    case = workable(state)
    if state.status is CaseStatus.CLEARED:
        raise StateConflict("everything presented is already released or refused", code="cleared")
    if len(state.holds) >= MAX_HOLDS:
        raise StateConflict(f"a case takes at most {MAX_HOLDS} holds", code="too-many-holds")
    asked = _per_lot(state, command.lots, "lots")
    for key, quantity in asked.items():
        if quantity > state.free(key):
            raise StateConflict(
                f"{_lot_name(key)}: {quantity} units asked, only {state.free(key)} can be held",
                code="not-holdable",
            )
    return [
        HoldPlaced(
            shipment_id=case.shipment_id,
            hold_id=f"H{len(state.holds) + 1}",
            reason=command.reason,
            lots=command.lots,
            note=command.note,
            placed_by=command.by,
            placed_at=command.now,
        )
    ]


def release_hold(command: ReleaseHold, state: ClearanceCase) -> list[DomainEvent]:
    case = opened(state)
    hold = next((h for h in state.holds if h.hold_id == command.hold_id), None)
    if hold is None:
        raise NotFound(f"no hold {command.hold_id} on this case", code="hold-not-found")
    if not hold.open:
        raise StateConflict(f"hold {command.hold_id} is already released", code="hold-released")
    return [
        HoldReleased(
            shipment_id=case.shipment_id,
            hold_id=hold.hold_id,
            note=command.note,
            released_by=command.by,
            released_at=command.now,
        )
    ]


# -- release and refusal ---------------------------------------------------------------------


def release_goods(command: ReleaseGoods, state: ClearanceCase) -> list[DomainEvent]:
    case = arrived(state)
    asked = None if command.lots is None else _per_lot(state, command.lots, "lots")
    if state.releases >= MAX_RELEASES:
        raise StateConflict(f"a case takes at most {MAX_RELEASES} releases", code="too-many")
    if state.declaration is None:
        raise StateConflict("lodge the declaration before release", code="no-declaration")
    if state.lane is None:
        raise StateConflict("assign a lane before release", code="no-lane")
    _lane_allows_release(state)
    if asked is None:
        units = {k: f for k in state.ledger if (f := state.free(k)) > 0}
    else:
        units = asked
        for key, quantity in units.items():
            if quantity > state.free(key):
                raise StateConflict(_not_free(state, key, quantity), code="not-releasable")
    if not units:
        hold = state.whole_case_hold()
        why = f"hold {hold.hold_id} is open on the whole case" if hold else "nothing is free"
        raise StateConflict(f"nothing can be released: {why}", code="nothing-releasable")
    released = GoodsReleased(
        shipment_id=case.shipment_id,
        release_no=state.releases + 1,
        airport=case.airport,
        donor=case.donor,
        declaration_number=state.declaration.declaration_number,
        lane=state.lane.lane,
        partial=sum(units.values()) < state.remaining_total,
        out_of_hours=command.out_of_hours,
        remarks=command.remarks,
        released_by=command.by,
        released_at=command.now,
        lines=lines_of(state, units),
        priority=state.priority,
    )
    return [released, *_completed(state, released, command.now)]


def _lane_allows_release(state: ClearanceCase) -> None:
    assert state.lane is not None
    if state.lane.lane is Lane.YELLOW and (missing := missing_documents(state)):
        names = ", ".join(d.value for d in missing)
        raise StateConflict(
            f"yellow lane: documents not yet received or waived: {names}",
            code="documents-missing",
        )
    if state.lane.lane is Lane.RED and state.examination is None:
        raise StateConflict("red lane: no physical examination is recorded", code="not-examined")


def refuse_goods(command: RefuseGoods, state: ClearanceCase) -> list[DomainEvent]:
    case = arrived(state)
    if not command.reason.strip():
        raise InvalidInput("a refusal needs a reason", field="reason", code="no-reason")
    if command.lots is None:
        units = {k: b.remaining for k, b in state.ledger.items() if b.remaining > 0}
    else:
        units = _per_lot(state, command.lots, "lots")
        for key, quantity in units.items():
            if quantity > (left := state.ledger[key].remaining):
                raise StateConflict(
                    f"{_lot_name(key)}: {quantity} units asked, {left} not yet released",
                    code="not-refusable",
                )
    if not units:
        raise StateConflict("nothing is left to refuse", code="nothing-refusable")
    refused = GoodsRefused(
        shipment_id=case.shipment_id,
        outcome=command.outcome,
        reason=command.reason.strip(),
        refused_by=command.by,
        refused_at=command.now,
        lines=lines_of(state, units),
    )
    return [refused, *_completed(state, refused, command.now)]


def clear_fast_track(command: ClearFastTrack, state: ClearanceCase) -> list[DomainEvent]:
    case = arrived(state)
    if not command.declaration_number.strip():
        raise InvalidInput(
            "a declaration number is required",
            field="declaration_number",
            code="no-declaration",
        )
    if state.presented_total == 0:
        raise StateConflict(
            "nothing was received, so nothing can be cleared", code="nothing-received"
        )
    if state.remaining_total == 0:
        raise StateConflict("this consignment is already cleared", code="already-cleared")
    if holds := state.open_holds():
        raise StateConflict(
            f"hold {holds[0].hold_id} ({holds[0].event.reason.value}) is open",
            code="hold-open",
        )
    units = {k: b.remaining for k, b in state.ledger.items() if b.remaining > 0}
    cleared = ClearedFastTrack(
        shipment_id=case.shipment_id,
        airport=case.airport,
        donor=case.donor,
        declaration_number=command.declaration_number.strip(),
        lane=command.lane,
        examination=command.examination,
        remarks=command.remarks,
        cleared_at=command.now,
        lines=lines_of(state, units),
        priority=state.priority,
    )
    return [cleared, *_completed(state, cleared, command.now)]


# -- helpers ---------------------------------------------------------------------------------


def _per_lot(state: ClearanceCase, lots: tuple[HeldLot, ...], field: str) -> dict[LotKey, int]:
    """Quantities per lot, each lot of the case named once."""
    units: dict[LotKey, int] = {}
    for i, lot in enumerate(lots):
        key = (lot.line_no, lot.lot_number)
        if key not in state.ledger:
            raise InvalidInput(
                f"{_lot_name(key)} was not presented", field=f"{field}.{i}", code="unknown-lot"
            )
        if key in units:
            raise InvalidInput(
                f"{_lot_name(key)} is named twice", field=f"{field}.{i}", code="lot-twice"
            )
        units[key] = lot.quantity
    return units


def _lot_name(key: LotKey) -> str:
    return f"line {key[0]}" + (f" lot {key[1]}" if key[1] else "")


def _not_free(state: ClearanceCase, key: LotKey, quantity: int) -> str:
    balance = state.ledger[key]
    return (
        f"{_lot_name(key)}: {quantity} units asked, {state.free(key)} releasable"
        f" ({state.held(key)} held, {balance.released} released, {balance.refused} refused)"
    )


def _completed(state: ClearanceCase, event: DomainEvent, now: datetime) -> list[DomainEvent]:
    """Closes the case when intake has closed its side and nothing is left to clear."""

    after = evolve(state, event)
    if after.arrivals_completed and after.remaining_total == 0:
        return [closed(after, CaseClosure.COMPLETED, now)]
    return []
