"""Intake's events through the real Kafka topic into the customs consumer, on real PostgreSQL:
a cancellation closes the case, a closure with nothing to clear ends it, arrival parts add
up, an amendment before arrival changes the lines; each delivered twice acts once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.customs import api, pages
from services.customs.main import SPEC
from shared.contracts.base import DomainEvent
from shared.contracts.intake import (
    ShipmentAmended,
    ShipmentAnnounced,
    ShipmentArrivedV2,
    ShipmentCancelled,
    ShipmentClosed,
)
from shared.contracts.values import Channel, CountedLot, Rejection, RejectionReason
from shared.envelope import to_kafka
from shared.eventstore import RecordedEvent
from shared.http.app import create_app
from shared.infra.kafka_broker import KafkaBroker, create_topics
from shared.settings import Settings, all_topics, topic_of
from tests.integration.apps import bearer, serving, settings_for
from tests.integration.kit import eventually
from tests.unit.builders import NOW, line, lot

pytestmark = pytest.mark.integration

VACCINE = line(1, 1000, lots=(lot("A1", 600), lot("A2", 400)))
Served = tuple[httpx.AsyncClient, Settings, AIOKafkaProducer]


@pytest.fixture
async def customs(database: str, kafka: KafkaBroker) -> AsyncIterator[Served]:
    prefix = f"it{uuid.uuid4().hex[:6]}"
    await create_topics(kafka.bootstrap_servers, all_topics(prefix))
    settings = settings_for("customs", database, kafka.bootstrap_servers, prefix)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        async with serving(create_app(SPEC, settings, [api.router, pages.router])) as client:
            yield client, settings, producer
    finally:
        await producer.stop()


async def _publish(served: Served, *events: DomainEvent) -> None:
    """As intake's relay publishes them: CloudEvents on intake's topic, keyed by shipment."""
    _, settings, producer = served
    for version, event in enumerate(events, start=1):
        recorded = RecordedEvent(
            position=version,
            stream_id=str(event.shipment_id),
            stream_version=version,
            event_id=uuid.uuid5(event.shipment_id, f"{version}"),
            event_type=event.event_type,
            data=event.to_data(),
            metadata={"actor": "intake.han"},
            recorded_at=NOW,
        )
        record = to_kafka(recorded, "aidport/intake")
        topic = topic_of("intake", settings.topic_prefix)
        await producer.send_and_wait(topic, record.value, record.key, headers=record.headers)


def _announced(shipment_id: uuid.UUID) -> ShipmentAnnounced:
    return ShipmentAnnounced(
        shipment_id=shipment_id,
        donor="COVAX",
        channel=Channel.COVAX,
        airport="HAN",
        flight="VN0317",
        airway_bill="738-12345675",
        expected_arrival=NOW,
        consignee="NIHE",
        lines=(VACCINE,),
    )


async def _case_when(served: Served, shipment_id: uuid.UUID, **expected: Any) -> dict[str, Any]:
    client, settings, _ = served
    found: dict[str, Any] = {}

    async def matches() -> bool:
        response = await client.get(
            f"/api/v1/clearances/{shipment_id}", headers=bearer("customs.han", settings)
        )
        if response.status_code != 200:
            return False
        found.update(response.json())
        return all(found.get(k) == v for k, v in expected.items())

    await eventually(matches)
    return found


async def test_a_cancelled_shipment_closes_its_case(customs: Served) -> None:
    shipment_id = uuid.uuid4()
    cancelled = ShipmentCancelled(
        shipment_id=shipment_id,
        reason="flight cancelled by the donor",
        cancelled_by="intake.han",
        cancelled_at=NOW + timedelta(hours=1),
    )
    await _publish(customs, _announced(shipment_id), cancelled)
    await _publish(customs, _announced(shipment_id), cancelled)  # delivered again
    case = await _case_when(customs, shipment_id, status="closed")
    assert case["closure"] == "cancelled" and case["released_total"] == 0
    client, settings, _ = customs
    history = await client.get(
        f"/api/v1/clearances/{shipment_id}/history", headers=bearer("viewer", settings)
    )
    assert [e["event_type"] for e in history.json()] == [
        "aidport.customs.ClearanceCaseOpened.v1",
        "aidport.customs.ClearanceCaseClosed.v1",
    ]


def _arrived(shipment_id: uuid.UUID, part: int, *lots: CountedLot) -> ShipmentArrivedV2:
    return ShipmentArrivedV2(
        shipment_id=shipment_id, airport="HAN", part_no=part, arrived_at=NOW, lots=lots
    )


def _counted(number: str, counted: int, rejected: int = 0) -> CountedLot:
    rejections = (
        (Rejection(reason=RejectionReason.VVM_DISCARD_POINT, quantity=rejected),)
        if rejected
        else ()
    )
    return CountedLot(
        line_no=1,
        lot_number=number,
        counted=counted,
        accepted=counted - rejected,
        rejections=rejections,
    )


async def test_parts_present_only_accepted_units_and_add_up(customs: Served) -> None:
    shipment_id = uuid.uuid4()
    amended = ShipmentAmended(
        shipment_id=shipment_id,
        reason="second lot added",
        amended_by="intake.han",
        amended_at=NOW,
        donor="COVAX",
        channel=Channel.COVAX,
        flight="VN0317",
        airway_bill="738-12345675",
        expected_arrival=NOW,
        consignee="NIHE",
        lines=(line(1, 1200, lots=(lot("A1", 600), lot("A2", 600))),),
    )
    first = _arrived(shipment_id, 1, _counted("A1", 600, rejected=100))
    second = _arrived(shipment_id, 2, _counted("A2", 600))
    await _publish(customs, _announced(shipment_id), amended, first, first, second)
    case = await _case_when(customs, shipment_id, presented_total=1100)
    assert case["lines"][0]["quantity"] == 1200
    assert {x["lot_number"]: x["presented"] for x in case["detail"]["lots"]} == {
        "A1": 500,
        "A2": 600,
    }
    assert case["detail"]["parts"] == [1, 2]


async def test_nothing_to_clear_ends_the_case(customs: Served) -> None:
    shipment_id = uuid.uuid4()
    rejected = _arrived(shipment_id, 1, _counted("A1", 600, rejected=600))
    closed = ShipmentClosed(
        shipment_id=shipment_id, closed_by="intake.han", closed_at=NOW, accepted=()
    )
    await _publish(customs, _announced(shipment_id), rejected, closed)
    case = await _case_when(customs, shipment_id, status="closed")
    assert case["closure"] == "nothing_to_clear" and case["presented_total"] == 0
