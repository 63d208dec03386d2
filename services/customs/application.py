"""Customs use cases: one clearance case per consignment.

``cases`` runs the reactions to intake's events (``reactions.py``); ``FastTrackHandler``
and ``CaseWorkHandler`` run the officers' commands. All run inside the caller's unit of
work and answer with the case as the queue shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from services.customs import domain, queries
from services.customs.projections import ClearanceCasesProjection
from services.customs.queries import CaseView
from shared.application import CommandHandler
from shared.auth import Principal
from shared.contracts.base import JsonDict
from shared.db import Conn
from shared.decider import NotFound
from shared.eventstore import EventStore
from shared.observability import observe_lead_time
from shared.runtime import Runtime

PROJECTIONS = (ClearanceCasesProjection(),)

Cases = CommandHandler[domain.ClearanceCase, domain.Command]
CaseCheck = Callable[[domain.ClearanceCase], None]


def cases(runtime: Runtime) -> Cases:
    return cases_in(runtime.store)


def cases_in(store: EventStore) -> Cases:
    return CommandHandler(store, domain.decider, PROJECTIONS)


def officer_of(user: Principal, shipment_id: UUID) -> CaseCheck:
    """What an officer's command checks on the loaded case before deciding: the case
    exists, at one of the officer's airports."""

    def check(case: domain.ClearanceCase) -> None:
        if case.opened is None:
            raise NotFound(f"no clearance case for shipment {shipment_id}", code="case-not-found")
        user.require_scope(case.opened.airport, "airport")

    return check


@dataclass(frozen=True)
class FastTrackHandler:
    cases: Cases

    async def __call__(
        self,
        conn: Conn,
        shipment_id: UUID,
        command: domain.ClearFastTrack,
        metadata: JsonDict,
        check: CaseCheck | None = None,
    ) -> CaseView:
        await self.cases.handle(conn, str(shipment_id), command, metadata, check)
        cleared = await queries.existing_case(conn, shipment_id)
        if cleared.arrived_at and cleared.cleared_at:
            observe_lead_time("arrived_to_cleared", cleared.arrived_at, cleared.cleared_at)
        return cleared


@dataclass(frozen=True)
class CaseWorkHandler:
    """An officer's step on a case: declaration, document, permit, lane, examination, hold,
    hold release, normal or partial release, refusal."""

    cases: Cases

    async def __call__(
        self,
        conn: Conn,
        shipment_id: UUID,
        command: domain.OfficerCommand,
        metadata: JsonDict,
        check: CaseCheck | None = None,
    ) -> CaseView:
        await self.cases.handle(conn, str(shipment_id), command, metadata, check)
        worked = await queries.existing_case(conn, shipment_id)
        if isinstance(command, domain.ReleaseGoods) and worked.arrived_at and worked.cleared_at:
            observe_lead_time("arrived_to_cleared", worked.arrived_at, worked.cleared_at)
        return worked
