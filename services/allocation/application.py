"""Allocation use cases: one aggregate per consignment holds its round and its notices.

``allocations`` runs the reaction to a cleared consignment (``reactions.py``);
``AcknowledgeHandler`` is a province's command. Both run inside the caller's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.allocation import domain, queries
from services.allocation.domain import NoticeStatus
from services.allocation.notice_projection import NoticeDeliveryProjection
from services.allocation.projections import NoticesProjection, RoundsProjection
from services.allocation.queries import NoticeView
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
        if notice.status is NoticeStatus.NEW and acknowledged.acknowledged_at:
            observe_lead_time(
                "allocated_to_acknowledged", notice.allocated_at, acknowledged.acknowledged_at
            )
        return acknowledged
