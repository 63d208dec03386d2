"""Intake use cases: one aggregate per consignment, keyed by its airway bill."""

from __future__ import annotations

import uuid
from typing import Any

from services.intake import domain
from services.intake.projections import ShipmentsProjection
from shared.application import CommandHandler
from shared.runtime import Runtime

PROJECTIONS = (ShipmentsProjection(),)
_SHIPMENT_NAMESPACE = uuid.UUID("5b1f0c1e-7a52-4f0e-9d53-1d6c2f3a9e10")


def shipment_id_for(airport: str, airway_bill: str) -> uuid.UUID:
    """One consignment per airway bill: announcing the same bill again is the same shipment."""
    normalised = "".join(ch for ch in airway_bill.upper() if ch.isalnum())
    return uuid.uuid5(_SHIPMENT_NAMESPACE, f"{airport.upper()}/{normalised}")


def shipments(runtime: Runtime) -> CommandHandler[Any, Any]:
    return CommandHandler(runtime.store, domain.decider, PROJECTIONS)
