"""The national reserve of a consignment: the lots kept by approved rounds, and rounds that
release part of it, first expiry first out."""

from __future__ import annotations

from collections import Counter
from datetime import date

from services.allocation.domain.drafting import Drafting, as_released, drafted_event, require_manual
from services.allocation.domain.rounds import ReleaseReserve, reserve_round_id
from services.allocation.domain.state import ConsignmentAllocation, RoundStatus
from services.allocation.policies.engine import lots_of
from shared.contracts.allocation import (
    RoundSource,
)
from shared.contracts.base import DomainEvent
from shared.contracts.values import Lot
from shared.decider import InvalidInput, NotFound, RuleBroken


def reserve_stock(state: ConsignmentAllocation) -> dict[int, tuple[Lot, ...]]:
    """Per line, the lots the national reserve holds of this consignment: what approved
    rounds kept, less what reserve rounds took (a draft holds its lots until approved, then
    gives back what it kept in reserve itself)."""
    stock: dict[int, Counter[tuple[date, str]]] = {}
    for round_ in state.rounds.values():
        for line in round_.lines:
            held = stock.setdefault(line.line_no, Counter())
            kept = Counter({(x.expiry_date, x.lot_number): x.quantity for x in line.reserve_lots})
            if round_.source is RoundSource.RESERVE:
                held.subtract({(x.expiry_date, x.lot_number): x.quantity for x in lots_of(line)})
                if round_.status is RoundStatus.APPROVED:
                    held.update(kept)
            elif round_.status is RoundStatus.APPROVED:
                held.update(kept)
    return {
        line_no: tuple(
            Lot(lot_number=number, expiry_date=expiry, quantity=q)
            for (expiry, number), q in sorted(held.items())
            if q > 0
        )
        for line_no, held in sorted(stock.items())
        if +held
    }


def release_reserve(command: ReleaseReserve, state: ConsignmentAllocation) -> list[DomainEvent]:
    if state.shipment_id is None:
        raise NotFound(f"no allocation for consignment {command.shipment_id}", code="no-round")
    stock = reserve_stock(state)
    lines = []
    for line_no, wanted in sorted(command.quantities.items()):
        source = next(
            (r.line(line_no) for r in state.rounds.values() if r.line(line_no) is not None), None
        )
        held = stock.get(line_no, ())
        if source is None:
            raise InvalidInput(f"the consignment has no line {line_no}", field="lines/line_no")
        if wanted < 1 or wanted > sum(x.quantity for x in held):
            raise RuleBroken(
                f"line {line_no}: the reserve holds {sum(x.quantity for x in held)},"
                f" {wanted} asked",
                field="lines/quantity",
                code="reserve-short",
            )
        lines.append(as_released(source, _earliest(held, wanted), wanted))
    require_manual(command.policy, "a reserve release")
    number = 1 + sum(1 for r in state.rounds.values() if r.source is RoundSource.RESERVE)
    about = Drafting(
        shipment_id=command.shipment_id,
        round_id=reserve_round_id(command.shipment_id, number),
        source=RoundSource.RESERVE,
        release_no=None,
        donor=next((r.donor for r in state.rounds.values() if r.donor), ""),
        released_at=command.now,
        drafted_by=command.by,
    )
    return [
        drafted_event(
            about,
            tuple(lines),
            command.policy,
            command.recipients,
            command.received,
            command.now,
            automatic=False,
        )
    ]


def _earliest(held: tuple[Lot, ...], wanted: int) -> tuple[Lot, ...]:
    """The earliest-expiring reserve lots first (``held`` is in that order)."""
    taken: list[Lot] = []
    for lot in held:
        part = min(lot.quantity, wanted)
        if part:
            taken.append(lot.model_copy(update={"quantity": part}))
            wanted -= part
    return tuple(taken)
