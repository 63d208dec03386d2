"""Dispatch and proof of delivery: the national store's and the province's commands.

Each runs inside the caller's unit of work, on the consignment's stream, and returns the
notice as the read model shows it afterwards. A notice of another province is not found
through a province's path.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.allocation import queries
from services.allocation.application import Allocations
from services.allocation.domain.notices import DispatchNotice, ReceiveNotice
from services.allocation.queries import NoticeView
from shared.contracts.base import JsonDict
from shared.db import Conn
from shared.observability import observe_lead_time


@dataclass(frozen=True)
class DispatchHandler:
    allocations: Allocations

    async def __call__(self, conn: Conn, command: DispatchNotice, metadata: JsonDict) -> NoticeView:
        code, number = command.province_code, command.notice_number
        notice = await queries.existing_notice(conn, code, number)
        await self.allocations.handle(conn, str(notice.shipment_id), command, metadata)
        dispatched = await queries.existing_notice(conn, code, number)
        if notice.released_at and dispatched.dispatched_at:
            observe_lead_time(
                "released_to_dispatched", notice.released_at, dispatched.dispatched_at
            )
        return dispatched


@dataclass(frozen=True)
class ReceiptHandler:
    allocations: Allocations

    async def __call__(self, conn: Conn, command: ReceiveNotice, metadata: JsonDict) -> NoticeView:
        code, number = command.province_code, command.notice_number
        notice = await queries.existing_notice(conn, code, number)
        await self.allocations.handle(conn, str(notice.shipment_id), command, metadata)
        received = await queries.existing_notice(conn, code, number)
        if received.received_at:
            if received.released_at:
                observe_lead_time(
                    "released_to_received", received.released_at, received.received_at
                )
            if received.dispatched_at:
                observe_lead_time(
                    "dispatched_to_received", received.dispatched_at, received.received_at
                )
        return received
