"""Event contracts: frozen pydantic models with a versioned type registry.

An event type never changes meaning. A new shape is a new version (``...v2``)
registered with an upcaster from the old one, so readers accept both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError

JsonDict = dict[str, Any]


class DomainEvent(BaseModel):
    """A fact in the past tense about one consignment (the shipment id is the subject)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    shipment_id: UUID

    def to_data(self) -> JsonDict:
        return self.model_dump(mode="json")


E = TypeVar("E", bound=type[DomainEvent])
Upcaster = Callable[[JsonDict], JsonDict]


class UnknownEventType(LookupError):
    pass


class UndecodableEvent(ValueError):
    """The data does not match its declared type: a poison message, not a transient error."""


class EventRegistry:
    def __init__(self) -> None:
        self._types: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[str, tuple[str, Upcaster]] = {}

    def register(self, cls: E) -> E:
        name = cls.event_type
        if name in self._types:
            raise ValueError(f"event type {name} registered twice")
        self._types[name] = cls
        return cls

    def upcaster(self, old_type: str, new_type: str) -> Callable[[Upcaster], Upcaster]:
        def add(fn: Upcaster) -> Upcaster:
            self._upcasters[old_type] = (new_type, fn)
            return fn

        return add

    def types(self) -> dict[str, type[DomainEvent]]:
        return dict(self._types)

    def resolve(self, event_type: str) -> type[DomainEvent] | None:
        """The class a message of ``event_type`` decodes to (after upcasting), if known."""
        while event_type in self._upcasters:
            event_type = self._upcasters[event_type][0]
        return self._types.get(event_type)

    def decode(self, event_type: str, data: JsonDict) -> DomainEvent:
        while event_type in self._upcasters:
            event_type, upcast = self._upcasters[event_type]
            data = upcast(data)
        cls = self._types.get(event_type)
        if cls is None:
            raise UnknownEventType(event_type)
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise UndecodableEvent(f"{event_type}: {error}") from error


registry = EventRegistry()
