"""What customs does on intake's events: open a case on announcement, follow amendments
before arrival, present each arrival part (only the accepted units), close the case when
the shipment is cancelled or closes with nothing to clear."""

from __future__ import annotations

from collections.abc import Sequence

from services.customs import domain
from services.customs.application import cases
from shared.consumer import Reaction, reaction_metadata
from shared.consumer.unit_of_work import BatchUnitOfWork, StreamCommand
from shared.contracts.customs import CaseClosure, LotExpiry
from shared.contracts.intake import (
    ShipmentAmended,
    ShipmentAnnounced,
    ShipmentArrivedV2,
    ShipmentCancelled,
    ShipmentClosed,
)
from shared.contracts.values import ReceivedLot
from shared.db import Conn
from shared.envelope import Envelope
from shared.runtime import Runtime

ACTS_ON = (
    ShipmentAnnounced,
    ShipmentAmended,
    ShipmentArrivedV2,
    ShipmentCancelled,
    ShipmentClosed,
)  # the events ``command_for`` turns into commands


def command_for(event: object) -> domain.Command | None:
    match event:
        case ShipmentAnnounced():
            return domain.OpenCase.from_announcement(event)
        case ShipmentAmended():
            return domain.AmendCase.from_amendment(event)
        case ShipmentArrivedV2():
            return presented(event)
        case ShipmentCancelled():
            return domain.CloseCase(CaseClosure.CANCELLED, event.cancelled_at)
        case ShipmentClosed():
            return domain.CompleteArrivals(event.nothing_to_clear, event.closed_at)
    return None


def presented(event: ShipmentArrivedV2) -> domain.PresentGoods:
    """One part as presented to customs: the accepted units per lot, several parts add up."""
    accepted = tuple(
        ReceivedLot(line_no=lot.line_no, lot_number=lot.lot_number, quantity=lot.accepted)
        for lot in event.lots
    )
    expiries = tuple(
        LotExpiry(line_no=lot.line_no, lot_number=lot.lot_number, expiry_date=lot.expiry_date)
        for lot in event.lots
        if lot.expiry_date is not None and lot.lot_number
    )
    return domain.PresentGoods(event.arrived_at, accepted, event.part_no, expiries)


def reaction(runtime: Runtime) -> Reaction:
    service = runtime.spec.name

    async def one(conn: Conn, envelope: Envelope) -> None:
        command = command_for(envelope.event)
        if command is not None:
            metadata = reaction_metadata(service, envelope)
            await cases(runtime).handle(conn, envelope.subject, command, metadata)

    async def many(conn: Conn, envelopes: Sequence[Envelope]) -> None:
        commands = [
            StreamCommand(e.subject, command, reaction_metadata(service, e))
            for e in envelopes
            if (command := command_for(e.event)) is not None
        ]
        await BatchUnitOfWork(cases(runtime)).run(conn, commands)

    return Reaction(one, many, acts_on=ACTS_ON)
