"""An event type of the tests' own, in a registry of their own."""

from __future__ import annotations

import uuid

from shared.contracts.base import DomainEvent, EventRegistry
from shared.eventstore import NewEvent

test_types = EventRegistry()


@test_types.register
class Ping(DomainEvent):
    event_type = "aidport.test.Ping.v1"
    n: int = 0


def ping(stream: uuid.UUID, n: int = 0) -> NewEvent:
    return NewEvent(Ping(shipment_id=stream, n=n), {"correlation_id": f"c-{stream}"})


@test_types.register
class Note(DomainEvent):
    """An event as large as its text: for the broker's message size limit."""

    event_type = "aidport.test.Note.v1"
    text: str = ""
