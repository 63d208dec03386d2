"""The CloudEvents binding, the event registry and the tokens: pure, no infrastructure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.auth import AuthError, Principal, Role, issue_token, verify_token
from shared.contracts import registry
from shared.contracts.base import EventRegistry
from shared.contracts.intake import ShipmentAnnounced, ShipmentArrived, ShipmentArrivedV2
from shared.envelope import UndecodableMessage, UnknownTypeMessage, from_kafka, to_kafka
from shared.eventstore import RecordedEvent
from tests.sample_events import Ping, test_types

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def recorded(event: Ping) -> RecordedEvent:
    return RecordedEvent(
        position=7,
        stream_id=str(event.shipment_id),
        stream_version=3,
        event_id=uuid.uuid4(),
        event_type=event.event_type,
        data=event.to_data(),
        metadata={"correlation_id": "c-1", "causation_id": "k-1", "actor": "intake.han"},
        recorded_at=datetime(2021, 6, 16, 7, 20, tzinfo=UTC),
    )


def test_binary_mode_round_trip() -> None:
    event = recorded(Ping(shipment_id=uuid.uuid4(), n=4))
    record = to_kafka(event, "aidport/test")
    headers = dict(record.headers)
    assert headers["ce_specversion"] == b"1.0" and headers["content-type"] == b"application/json"
    assert headers["ce_subject"] == record.key == str(event.data["shipment_id"]).encode()
    envelope = from_kafka(record.headers, record.value, test_types)
    assert envelope.id == event.event_id and envelope.event == Ping(**event.data)
    assert (envelope.correlation_id, envelope.actor, envelope.stream_version) == (
        "c-1",
        "intake.han",
        3,
    )


@pytest.mark.parametrize("value", [b"{not json", b"[1, 2]", b'{"n": "many"}'])
def test_undecodable_values(value: bytes) -> None:
    record = to_kafka(recorded(Ping(shipment_id=uuid.uuid4())), "aidport/test")
    with pytest.raises(UndecodableMessage):
        from_kafka(record.headers, value, test_types)


def test_missing_headers_and_unknown_types() -> None:
    record = to_kafka(recorded(Ping(shipment_id=uuid.uuid4())), "aidport/test")
    with pytest.raises(UndecodableMessage):
        from_kafka(record.headers[1:], record.value, test_types)
    with pytest.raises(UnknownTypeMessage):  # dead-lettered too, never dropped in silence
        from_kafka(record.headers, record.value, EventRegistry())


def test_an_old_version_is_upcast() -> None:
    types = EventRegistry()
    types.register(Ping)

    @types.upcaster("aidport.test.Ping.v0", Ping.event_type)
    def v0_to_v1(data: dict[str, object]) -> dict[str, object]:
        return {"shipment_id": data["id"], "n": data["count"]}

    shipment = uuid.uuid4()
    assert types.decode("aidport.test.Ping.v0", {"id": str(shipment), "count": 2}) == Ping(
        shipment_id=shipment, n=2
    )


def test_every_contract_has_a_versioned_cloudevents_type() -> None:
    for name, model in registry.types().items():
        assert name.startswith("aidport.") and name.rsplit(".", 1)[1].startswith("v")
        assert model.model_config.get("frozen") is True


def test_tokens_carry_role_and_scope() -> None:
    officer = Principal("province-01", "Health department 01", Role.PROVINCE_OFFICER, ("01",))
    back = verify_token(issue_token(officer, SECRET, timedelta(minutes=5)), SECRET)
    assert back == officer and back.covers("01") and not back.covers("79")
    with pytest.raises(AuthError):
        verify_token(issue_token(officer, SECRET, timedelta(minutes=-1)), SECRET)
    with pytest.raises(AuthError):
        verify_token(issue_token(officer, SECRET, timedelta(minutes=5)), SECRET + "x")
    with pytest.raises(AuthError) as forbidden:
        officer.require(Role.INTAKE_OFFICER)
    assert forbidden.value.status == 403


def test_a_type_resolves_to_the_class_its_messages_decode_to_after_upcasting() -> None:
    assert registry.resolve(ShipmentArrived.event_type) is ShipmentArrivedV2
    assert registry.resolve(ShipmentAnnounced.event_type) is ShipmentAnnounced
    assert registry.resolve("aidport.nobody.Unknown.v1") is None
