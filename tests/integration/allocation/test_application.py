"""Allocation's use cases on real PostgreSQL: a round decided by the reactions' handler, and
a province acknowledging its notice through ``AcknowledgeHandler``."""

from __future__ import annotations

import asyncpg
import pytest

from services.allocation import domain
from services.allocation.application import AcknowledgeHandler, allocations_in
from services.allocation.commands import draft_for
from services.allocation.domain import NoticeStatus
from shared.decider import NotFound
from shared.eventstore import EventStore
from tests.integration.layers import METADATA, run, with_tables_of
from tests.unit.builders import NOW, SHIPMENT, cleared

pytestmark = pytest.mark.integration

STORE = EventStore("allocation")
ALLOCATIONS = allocations_in(STORE)
ACKNOWLEDGE = AcknowledgeHandler(ALLOCATIONS)


async def allocated(pool: asyncpg.Pool) -> str:
    """A round for the consignment; returns the number of Ha Noi's notice."""
    await with_tables_of(pool, "allocation")
    decide = draft_for(cleared(), NOW)
    await run(pool, lambda conn: ALLOCATIONS.handle(conn, str(SHIPMENT), decide, METADATA))
    return domain.notice_number_for(domain.round_id_for(SHIPMENT), "01", 1)


def acknowledgement(number: str, province: str = "01") -> domain.AcknowledgeNotice:
    return domain.AcknowledgeNotice(notice_number=number, province_code=province, now=NOW)


async def test_a_province_acknowledges_its_notice_once(pool: asyncpg.Pool) -> None:
    number = await allocated(pool)
    events_before = len(await STORE.load(pool, str(SHIPMENT)))
    first = await run(pool, lambda conn: ACKNOWLEDGE(conn, acknowledgement(number), METADATA))
    assert first.status is NoticeStatus.ACKNOWLEDGED and first.acknowledged_by == "test.officer"
    again = await run(pool, lambda conn: ACKNOWLEDGE(conn, acknowledgement(number), METADATA))
    assert again == first  # a retry records nothing new
    assert len(await STORE.load(pool, str(SHIPMENT))) == events_before + 1


async def test_a_notice_is_not_found_through_another_province(pool: asyncpg.Pool) -> None:
    number = await allocated(pool)
    with pytest.raises(NotFound) as refused:
        await run(pool, lambda conn: ACKNOWLEDGE(conn, acknowledgement(number, "79"), METADATA))
    assert refused.value.code == "notice-not-found"
    status = await pool.fetchval("SELECT status FROM notices WHERE notice_number = $1", number)
    assert status == NoticeStatus.ISSUED
