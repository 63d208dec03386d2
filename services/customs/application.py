"""Customs use cases: one clearance case per consignment."""

from __future__ import annotations

from typing import Any

from services.customs import domain
from services.customs.projections import ClearanceCasesProjection
from shared.application import CommandHandler
from shared.runtime import Runtime

PROJECTIONS = (ClearanceCasesProjection(),)


def cases(runtime: Runtime) -> CommandHandler[Any, Any]:
    return CommandHandler(runtime.store, domain.decider, PROJECTIONS)
