"""What customs does on intake's events: open a case on announcement, mark it on arrival."""

from __future__ import annotations

from collections.abc import Sequence

from services.customs import domain
from services.customs.application import cases
from shared.consumer import Reaction, reaction_metadata
from shared.consumer.unit_of_work import BatchUnitOfWork, StreamCommand
from shared.contracts.intake import ShipmentAnnounced, ShipmentArrivedV2
from shared.contracts.values import ReceivedLot
from shared.db import Conn
from shared.envelope import Envelope
from shared.runtime import Runtime


def command_for(event: object) -> domain.Command | None:
    match event:
        case ShipmentAnnounced():
            return domain.OpenCase.from_announcement(event)
        case ShipmentArrivedV2():
            accepted = tuple(
                ReceivedLot(line_no=lot.line_no, lot_number=lot.lot_number, quantity=lot.accepted)
                for lot in event.lots
            )
            return domain.PresentGoods(arrived_at=event.arrived_at, received=accepted)
    return None


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

    return Reaction(one, many)
