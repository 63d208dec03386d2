"""Every event of AidPort, importable from one place so the registry is complete."""

from shared.contracts import allocation, customs, intake
from shared.contracts.base import DomainEvent, EventRegistry, registry

__all__ = ["DomainEvent", "EventRegistry", "allocation", "customs", "intake", "registry"]
