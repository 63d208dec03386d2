"""The services' set-based projections: rebuilt from the store, they equal the live ones
built batch by batch (several events of one shipment in a batch included)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from services.allocation import domain as allocation
from services.allocation.application import PROJECTIONS as ALLOCATION_PROJECTIONS
from services.allocation.commands import draft_for, recipient_codes
from services.customs import domain as customs
from services.customs.application import PROJECTIONS as CUSTOMS_PROJECTIONS
from shared.application import CommandHandler
from shared.consumer.unit_of_work import BatchUnitOfWork, StreamCommand
from shared.contracts.allocation import AllocatedToProvince, QuantityChange
from shared.contracts.intake import ShipmentAnnounced
from shared.eventstore import EventStore
from shared.migrations import migrate
from shared.projections import rebuild
from tests.unit.builders import NOW, cleared, line, received, released

pytestmark = pytest.mark.integration

SERVICES = Path(__file__).resolve().parents[2] / "services"


def _announcement(shipment: uuid.UUID) -> ShipmentAnnounced:
    return ShipmentAnnounced(
        shipment_id=shipment,
        donor="COVAX",
        channel="covax",
        airport="HAN",
        flight="VN0317",
        airway_bill="738-1",
        expected_arrival=NOW,
        consignee="NIHE",
        lines=(line(),),
    )


async def _table(pool: asyncpg.Pool, table: str, key: str) -> list[dict[str, object]]:
    return [dict(r) for r in await pool.fetch(f"SELECT * FROM {table} ORDER BY {key}")]


@pytest.mark.parametrize("page", [10_000, 4, 1])  # a case's events across pages
async def test_customs_cases_rebuilt_equal_the_live_ones(pool: asyncpg.Pool, page: int) -> None:
    async with pool.acquire() as conn:
        await migrate(conn, SERVICES / "customs" / "migrations")
    handler = CommandHandler(EventStore("customs"), customs.decider, CUSTOMS_PROJECTIONS)
    uow = BatchUnitOfWork(handler)
    shipments = [uuid.uuid4() for _ in range(12)]
    present = customs.PresentGoods(arrived_at=NOW, received=received((1, "A1", 500)))

    def opened(s: uuid.UUID) -> StreamCommand[object]:
        return StreamCommand(str(s), customs.OpenCase.from_announcement(_announcement(s)), {})

    async with pool.acquire() as conn, conn.transaction():  # open and present in one batch
        await uow.run(conn, [opened(s) for s in shipments[:6]])
        await uow.run(
            conn,
            [c for s in shipments[6:] for c in (opened(s), StreamCommand(str(s), present, {}))],
        )
    async with pool.acquire() as conn, conn.transaction():
        await uow.run(conn, [StreamCommand(str(s), present, {}) for s in shipments[:3]])
    live = await _table(pool, "clearance_cases", "shipment_id")

    assert await rebuild(pool, EventStore("customs"), CUSTOMS_PROJECTIONS, page=page) == 21
    assert await _table(pool, "clearance_cases", "shipment_id") == live
    assert sorted(str(r["status"]) for r in live) == ["arrived"] * 9 + ["awaiting_arrival"] * 3
    lots = await pool.fetch(
        "SELECT DISTINCT received->0->>'lot_number' AS lot FROM clearance_cases"
        " WHERE status = 'arrived'"
    )
    assert [r["lot"] for r in lots] == ["A1"]


async def test_allocation_rounds_and_notices_rebuilt_equal_the_live_ones(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await migrate(conn, SERVICES / "allocation" / "migrations")
    handler = CommandHandler(EventStore("allocation"), allocation.decider, ALLOCATION_PROJECTIONS)
    uow = BatchUnitOfWork(handler)
    now = datetime.now(UTC)
    commands = [
        StreamCommand(
            str(s),
            draft_for(cleared(shipment_id=s), now),
            {"actor": "aidport/allocation"},
        )
        for s in (uuid.uuid4() for _ in range(3))
    ]
    async with pool.acquire() as conn, conn.transaction():
        recorded = await uow.run(conn, commands)
    reviewed = await _reviewed_round(handler, pool)
    notices = await _table(pool, "notices", "notice_number")
    rounds = await _table(pool, "allocation_rounds", "round_id")

    replayed = await rebuild(pool, EventStore("allocation"), ALLOCATION_PROJECTIONS)

    assert replayed == sum(len(r) for r in recorded) + reviewed
    assert len(rounds) == 4
    sent = "SELECT count(*) FROM events WHERE event_type = $1"
    assert len(notices) == await pool.fetchval(sent, AllocatedToProvince.event_type)
    assert {r["status"] for r in rounds} == {"approved"}
    amended = [r for r in rounds if r["amendments"] != "[]" and r["amendments"] != []]
    assert len(amended) == 1 and amended[0]["decision_number"] == "3401/QĐ-BYT"
    assert await _table(pool, "notices", "notice_number") == notices
    assert await _table(pool, "allocation_rounds", "round_id") == rounds


async def _reviewed_round(
    handler: CommandHandler[allocation.ConsignmentAllocation, allocation.Command],
    pool: asyncpg.Pool,
) -> int:
    """A release drafted, adjusted, approved and amended; returns the events recorded."""
    shipment = uuid.uuid4()
    round_id = allocation.round_id_for(shipment, 1)
    move = (
        QuantityChange(line_no=1, recipient_code="01", quantity=0),
        QuantityChange(line_no=1, recipient_code="reserve", quantity=0),
    )
    steps: list[allocation.Command] = [
        draft_for(released(shipment_id=shipment, donor="Japan"), NOW),
    ]
    recorded = 0
    for step in steps:
        async with pool.acquire() as conn, conn.transaction():
            recorded += len(await handler.handle(conn, str(shipment), step, {"actor": "t"}))
    state, _ = await handler.load(pool, str(shipment))
    [line_] = state.rounds[round_id].lines
    hanoi = next(s.quantity for s in line_.shares if s.recipient_code == "01")
    to_hcmc = (
        *move,
        QuantityChange(
            line_no=1,
            recipient_code="79",
            quantity=hanoi
            + line_.reserve_quantity
            + next(s.quantity for s in line_.shares if s.recipient_code == "79"),
        ),
    )
    later = [
        allocation.AdjustRound(round_id, to_hcmc, "outbreak", "officer", NOW, recipient_codes()),
        allocation.ApproveRound(round_id, "3400/QĐ-BYT", NOW.date(), "approver", NOW),
        allocation.AmendRound(
            round_id,
            "3401/QĐ-BYT",
            NOW.date(),
            (QuantityChange(line_no=1, recipient_code="01", quantity=0),),
            "no change in quantity, a new decision number",
            "approver",
            NOW,
            recipient_codes(),
        ),
    ]
    for step in later:
        async with pool.acquire() as conn, conn.transaction():
            recorded += len(await handler.handle(conn, str(shipment), step, {"actor": "t"}))
    return recorded
