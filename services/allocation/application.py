"""Allocation use cases: one aggregate per consignment holds its round and its notices."""

from __future__ import annotations

from typing import Any

from services.allocation import domain
from services.allocation.projections import NoticesProjection, RoundsProjection
from shared.application import CommandHandler
from shared.runtime import Runtime

PROJECTIONS = (RoundsProjection(), NoticesProjection())


def allocations(runtime: Runtime) -> CommandHandler[Any, Any]:
    return CommandHandler(runtime.store, domain.decider, PROJECTIONS)
