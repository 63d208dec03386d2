"""Intake's use-case handlers on real PostgreSQL: a typed command in, the read model out."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import pytest

from services.intake import domain
from services.intake.application import (
    AnnounceShipmentHandler,
    RecordArrivalHandler,
    shipment_id_for,
    shipments_in,
)
from services.intake.domain import ShipmentStatus
from shared.contracts.values import Channel
from shared.decider import InvalidInput, NotFound, StateConflict
from shared.eventstore import EventStore
from tests.integration.layers import METADATA, run, with_tables_of
from tests.unit.builders import NOW, line, received

pytestmark = pytest.mark.integration

STORE = EventStore("intake")
ANNOUNCE = AnnounceShipmentHandler(shipments_in(STORE))
ARRIVE = RecordArrivalHandler(shipments_in(STORE))


def announcement(airway_bill: str = "738-12345675") -> domain.AnnounceShipment:
    return domain.AnnounceShipment(
        shipment_id=shipment_id_for("HAN", airway_bill),
        donor="COVAX",
        channel=Channel.COVAX,
        airport="HAN",
        flight="VN0317",
        airway_bill=airway_bill,
        expected_arrival=NOW,
        consignee="NIHE",
        lines=(line(1, 1000),),
        now=NOW,
    )


def arrival(quantity: int = 500) -> domain.RecordArrival:
    return domain.RecordArrival(
        arrived_at=NOW, received=received((1, "A1", quantity), (1, "A2", 500)), remarks="", now=NOW
    )


async def test_an_announced_then_arrived_consignment_is_read_back_as_the_pages_see_it(
    pool: asyncpg.Pool,
) -> None:
    await with_tables_of(pool, "intake")
    command = announcement()
    announced = await run(pool, lambda conn: ANNOUNCE(conn, command, METADATA))
    assert announced.status is ShipmentStatus.ANNOUNCED and announced.announced_by == "test.officer"
    assert announced.lines[0]["lots"][0]["lot_number"] == "A1"  # jsonb decoded once, in the view
    arrived = await run(pool, lambda conn: ARRIVE(conn, command.shipment_id, arrival(), METADATA))
    assert arrived.status is ShipmentStatus.ARRIVED and arrived.received is not None
    assert [r["quantity"] for r in arrived.received] == [500, 500]
    assert len(await STORE.load(pool, str(command.shipment_id))) == 3  # announced, part 1, closed


async def test_a_refused_command_leaves_neither_events_nor_rows(pool: asyncpg.Pool) -> None:
    await with_tables_of(pool, "intake")
    command = dataclasses.replace(announcement(), airport="XXX")
    with pytest.raises(InvalidInput) as refused:
        await run(pool, lambda conn: ANNOUNCE(conn, command, METADATA))
    assert refused.value.code == "unknown-airport"
    assert await pool.fetchval("SELECT count(*) FROM shipments") == 0
    assert await STORE.load(pool, str(command.shipment_id)) == []
    with pytest.raises(NotFound):
        await run(pool, lambda conn: ARRIVE(conn, command.shipment_id, arrival(), METADATA))


async def test_of_two_concurrent_arrivals_one_is_recorded_and_the_other_conflicts(
    pool: asyncpg.Pool,
) -> None:
    await with_tables_of(pool, "intake")
    command = announcement()
    await run(pool, lambda conn: ANNOUNCE(conn, command, METADATA))

    async def arrive(quantity: int) -> object:
        work = ARRIVE.__call__
        try:
            return await run(
                pool, lambda c: work(c, command.shipment_id, arrival(quantity), METADATA)
            )
        except StateConflict as conflict:
            return conflict

    outcomes = await asyncio.gather(arrive(400), arrive(450))
    conflicts = [o for o in outcomes if isinstance(o, StateConflict)]
    assert len(conflicts) == 1 and conflicts[0].code == "already-arrived"
    assert len(await STORE.load(pool, str(command.shipment_id))) == 3  # announced, part 1, closed
