"""Allocation use cases: one aggregate per consignment holds its rounds and its notices.

``allocations`` runs the reaction to a release (``reactions.py``); ``RoundHandler`` runs an
officer's or approver's command on a round; ``AcknowledgeHandler`` is a province's command.
All run inside the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.allocation import domain, queries
from services.allocation.domain import NoticeStatus
from services.allocation.notice_projection import NoticeDeliveryProjection
from services.allocation.projections import NoticesProjection, RoundsProjection
from services.allocation.queries import NoticeView, RoundView
from services.allocation.webhooks.outbox import WebhookOutbox
from shared.application import CommandHandler
from shared.contracts.base import JsonDict
from shared.db import Conn
from shared.eventstore import EventStore
from shared.observability import observe_lead_time
from shared.runtime import Runtime

PROJECTIONS = (
    RoundsProjection(),
    NoticesProjection(),
    NoticeDeliveryProjection(),
    WebhookOutbox(),
)

Allocations = CommandHandler[domain.ConsignmentAllocation, domain.Command]


def allocations(runtime: Runtime) -> Allocations:
    return allocations_in(runtime.store)


def allocations_in(store: EventStore) -> Allocations:
    return CommandHandler(store, domain.decider, PROJECTIONS)


@dataclass(frozen=True)
class AcknowledgeHandler:
    allocations: Allocations

    async def __call__(
        self, conn: Conn, command: domain.AcknowledgeNotice, metadata: JsonDict
    ) -> NoticeView:
        """The notice, acknowledged; a notice of another province is not found here."""
        code, number = command.province_code, command.notice_number
        notice = await queries.existing_notice(conn, code, number)
        await self.allocations.handle(conn, str(notice.shipment_id), command, metadata)
        acknowledged = await queries.existing_notice(conn, code, number)
        if notice.status is NoticeStatus.ISSUED and acknowledged.acknowledged_at:
            observe_lead_time(
                "allocated_to_acknowledged", notice.allocated_at, acknowledged.acknowledged_at
            )
        return acknowledged


RoundCommand = domain.RedraftRound | domain.AdjustRound | domain.ApproveRound | domain.AmendRound


@dataclass(frozen=True)
class RoundHandler:
    allocations: Allocations

    async def __call__(self, conn: Conn, command: RoundCommand, metadata: JsonDict) -> RoundView:
        """The round after the command (redrafted, adjusted, approved or amended)."""
        before = await queries.round_by_id(conn, command.round_id)
        if isinstance(command, domain.RedraftRound) and command.policy.targets:
            received = await queries.counted_for_shipment(conn, before.shipment_id)
            command = replace(command, received=received)
        await self.allocations.handle(conn, str(before.shipment_id), command, metadata)
        return await queries.round_by_id(conn, command.round_id)


@dataclass(frozen=True)
class ReleaseReserveHandler:
    allocations: Allocations

    async def __call__(
        self, conn: Conn, command: domain.ReleaseReserve, metadata: JsonDict
    ) -> RoundView:
        """The new draft round of the reserve release."""
        if command.policy.targets:
            received = await queries.counted_for_shipment(conn, command.shipment_id)
            command = replace(command, received=received)
        recorded = await self.allocations.handle(conn, str(command.shipment_id), command, metadata)
        round_id = str(recorded[0].data["round_id"])
        return await queries.round_by_id(conn, round_id)
