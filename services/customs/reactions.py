"""What customs does on intake's events: open a case on announcement, mark it on arrival."""

from __future__ import annotations

from services.customs import domain
from services.customs.application import cases
from shared.consumer import Handler, reaction_metadata
from shared.contracts.intake import ShipmentAnnounced, ShipmentArrived
from shared.db import Conn
from shared.envelope import Envelope
from shared.runtime import Runtime


def command_for(event: object) -> domain.Command | None:
    match event:
        case ShipmentAnnounced():
            return domain.OpenCase.from_announcement(event)
        case ShipmentArrived():
            return domain.PresentGoods(arrived_at=event.arrived_at, received=event.received)
    return None


def reaction(runtime: Runtime) -> Handler:
    async def handle(conn: Conn, envelope: Envelope) -> None:
        command = command_for(envelope.event)
        if command is None:
            return
        metadata = reaction_metadata(runtime.spec.name, envelope)
        await cases(runtime).handle(conn, envelope.subject, command, metadata)

    return handle
