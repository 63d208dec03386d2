"""Customs' use cases on real PostgreSQL: the reactions' handler opens and presents a case,
the fast-track handler clears it and answers with the case as the queue shows it."""

from __future__ import annotations

import asyncpg
import pytest

from services.customs import domain
from services.customs.application import FastTrackHandler, cases_in
from services.customs.domain import CaseStatus
from shared.contracts.customs import Examination, Lane
from shared.contracts.intake import ShipmentAnnounced
from shared.contracts.values import Channel
from shared.decider import StateConflict
from shared.eventstore import EventStore
from tests.integration.layers import METADATA, run, with_tables_of
from tests.unit.builders import NOW, SHIPMENT, line, received

pytestmark = pytest.mark.integration

STORE = EventStore("customs")
CASES = cases_in(STORE)
FAST_TRACK = FastTrackHandler(CASES)
STREAM = str(SHIPMENT)
OPEN = domain.OpenCase.from_announcement(
    ShipmentAnnounced(
        shipment_id=SHIPMENT,
        donor="COVAX",
        channel=Channel.COVAX,
        airport="HAN",
        flight="VN0317",
        airway_bill="738-12345675",
        expected_arrival=NOW,
        consignee="NIHE",
        lines=(line(1, 1000),),
    )
)
CLEAR = domain.ClearFastTrack(
    declaration_number="104123456789",
    lane=Lane.GREEN,
    examination=Examination.NONE,
    remarks="",
    now=NOW,
)


async def test_a_presented_case_is_cleared_with_what_was_received(pool: asyncpg.Pool) -> None:
    await with_tables_of(pool, "customs")
    await run(pool, lambda conn: CASES.handle(conn, STREAM, OPEN, METADATA))
    present = domain.PresentGoods(arrived_at=NOW, received=received((1, "A1", 500), (1, "A2", 0)))
    await run(pool, lambda conn: CASES.handle(conn, STREAM, present, METADATA))
    cleared = await run(pool, lambda conn: FAST_TRACK(conn, SHIPMENT, CLEAR, METADATA))
    assert cleared.status is CaseStatus.CLEARED and cleared.cleared_by == "test.officer"
    assert cleared.received_total == 500
    assert cleared.cleared_lines is not None
    assert [lot["lot_number"] for lot in cleared.cleared_lines[0]["lots"]] == ["A1"]


async def test_goods_that_have_not_arrived_cannot_be_cleared(pool: asyncpg.Pool) -> None:
    await with_tables_of(pool, "customs")
    await run(pool, lambda conn: CASES.handle(conn, STREAM, OPEN, METADATA))
    with pytest.raises(StateConflict) as refused:
        await run(pool, lambda conn: FAST_TRACK(conn, SHIPMENT, CLEAR, METADATA))
    assert refused.value.code == "not-arrived"
    status = await pool.fetchval(
        "SELECT status FROM clearance_cases WHERE shipment_id = $1", SHIPMENT
    )
    assert status == CaseStatus.AWAITING_ARRIVAL
