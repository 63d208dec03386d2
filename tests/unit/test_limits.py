"""The bounds of commands and events: the largest command accepted yields events under the
event store's limit; one lot, line, character or unit more is refused, naming the field."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.allocation.commands import draft_for
from services.allocation.domain import ConsignmentAllocation
from services.allocation.domain import decider as allocation
from services.customs import domain as customs
from services.intake import domain as intake
from services.intake.api import ArrivalCreate, ShipmentCreate, _lines
from shared.contracts.base import DomainEvent, UndecodableEvent, registry
from shared.contracts.customs import Examination, Lane
from shared.contracts.intake import ShipmentAnnounced
from shared.contracts.limits import (
    CODE_LENGTH,
    DEFAULT_MAX_EVENT_BYTES,
    MAX_LINES,
    MAX_LOTS,
    MAX_LOTS_PER_LINE,
    MAX_QUANTITY,
    MAX_RECEIVED,
    NAME_LENGTH,
    REMARKS_LENGTH,
)
from shared.contracts.values import ReceivedLot
from shared.decider import InvalidInput

NOW = datetime.now(UTC)
# Outside the Basic Multilingual Plane: json.dumps writes each as 12 bytes (a surrogate pair).
WIDE = "\U0001f489"
LOTS_PER_LINE = MAX_LOTS // MAX_LINES  # spreads the consignment's lots over every line


def largest_body(lots_per_line: int = LOTS_PER_LINE) -> dict[str, Any]:
    """The largest consignment the API accepts: every list full, every text at its longest."""
    expiry = (NOW.date() + timedelta(days=3650)).isoformat()

    def lots(line: int) -> list[dict[str, Any]]:
        return [
            {
                "lot_number": f"{line:02d}-{n:03d}".ljust(CODE_LENGTH, "X"),
                "expiry_date": expiry,
                "quantity": MAX_QUANTITY // lots_per_line,
            }
            for n in range(lots_per_line)
        ]

    return {
        "donor": WIDE * NAME_LENGTH,
        "channel": "covax",
        "airport": "HAN",
        "flight": "VN0317",
        "airway_bill": "738-" + "1" * (CODE_LENGTH - 4),
        "expected_arrival": (NOW + timedelta(days=364)).isoformat(),
        "consignee": WIDE * NAME_LENGTH,
        "lines": [
            {
                "product": WIDE * NAME_LENGTH,
                "category": "vaccine",
                "unit": "doses",
                "pack_size": 1,
                "quantity": MAX_QUANTITY // lots_per_line * lots_per_line,
                "storage": "2-8C",
                "lots": lots(line),
            }
            for line in range(MAX_LINES)
        ],
    }


def announce(body: dict[str, Any]) -> list[DomainEvent]:
    request = ShipmentCreate.model_validate(body)
    command = intake.AnnounceShipment(
        shipment_id=uuid.UUID(int=1),
        donor=request.donor,
        channel=request.channel,
        airport=request.airport,
        flight=request.flight,
        airway_bill=request.airway_bill,
        expected_arrival=request.expected_arrival,
        consignee=request.consignee,
        lines=_lines(request),
        now=NOW,
    )
    return list(intake.decider.decide(command, intake.Shipment()))


def size(event: DomainEvent) -> int:
    """As the event store measures it (ASCII-escaped JSON)."""
    return len(json.dumps(event.to_data()))


def the_whole_flow(announced: ShipmentAnnounced) -> list[DomainEvent]:
    """Every event the largest consignment leads to, with the longest remarks."""
    received = tuple(
        ReceivedLot(line_no=line.line_no, lot_number=lot.lot_number, quantity=lot.quantity)
        for line in announced.lines
        for lot in line.lots
    )
    arrival = ArrivalCreate(arrived_at=NOW, received=list(received), remarks=WIDE * REMARKS_LENGTH)
    state = intake.decider.fold([announced])
    arrived = intake.decider.decide(
        intake.RecordArrival(arrival.arrived_at, received, arrival.remarks, NOW), state
    )
    case = customs.decider.fold(
        [
            *customs.decider.decide(
                customs.OpenCase.from_announcement(announced), customs.ClearanceCase()
            )
        ]
    )
    opened = case.opened
    assert opened is not None
    presented = customs.decider.decide(customs.PresentGoods(NOW, received), case)
    case = customs.decider.fold([opened, *presented])
    clear = customs.ClearFastTrack(
        "1" * CODE_LENGTH, Lane.GREEN, Examination.NONE, WIDE * REMARKS_LENGTH, NOW
    )
    cleared = customs.decider.decide(clear, case)
    decided = allocation.decide(
        draft_for(cleared[0], NOW),
        ConsignmentAllocation(),
    )
    return [*arrived, opened, *presented, *cleared, *decided]


def test_the_largest_command_accepted_yields_events_well_under_the_limit() -> None:
    events = announce(largest_body())
    announced = events[0]
    assert isinstance(announced, ShipmentAnnounced)
    assert sum(len(line.lots) for line in announced.lines) == MAX_LOTS
    flow = [announced, *the_whole_flow(announced)]
    largest = max(size(event) for event in flow)
    # Under the store's limit, which is half the broker's 1 MiB message limit.
    assert largest < DEFAULT_MAX_EVENT_BYTES, largest
    assert {type(e).__name__ for e in flow} >= {
        "ShipmentAnnounced",
        "ShipmentArrivedV2",
        "ClearanceCaseOpened",
        "GoodsPresentedV2",
        "ClearedFastTrack",
        "AllocationRoundDrafted",
        "RoundApproved",
        "AllocatedToProvince",
    }


def test_all_lots_on_one_line_is_refused_past_the_line_limit() -> None:
    body = largest_body()
    body["lines"][0]["lots"] = largest_body(MAX_LOTS_PER_LINE)["lines"][0]["lots"]
    body["lines"][0]["quantity"] = sum(lot["quantity"] for lot in body["lines"][0]["lots"])
    body["lines"][1]["lots"] = body["lines"][1]["lots"][:1]
    body["lines"][1]["quantity"] = body["lines"][1]["lots"][0]["quantity"]
    body["lines"] = body["lines"][:4]  # 100 + 1 + 10 + 10 lots
    assert announce(body)
    body["lines"][0]["lots"].append(dict(body["lines"][0]["lots"][0], lot_number="ONE-MORE"))
    with pytest.raises(ValidationError) as refused:
        ShipmentCreate.model_validate(body)
    assert refused.value.errors()[0]["loc"] == ("lines", 0, "lots")


def test_one_lot_more_than_the_consignment_limit_is_refused() -> None:
    body = largest_body()
    last = body["lines"][-1]
    last["lots"].append(dict(last["lots"][0], lot_number="ONE-MORE", quantity=1))
    last["lots"][0]["quantity"] -= 1
    with pytest.raises(InvalidInput) as refused:
        announce(body)
    assert refused.value.field == "lines" and refused.value.code == "too-many-lots"


@pytest.mark.parametrize(
    ("change", "location"),
    [
        (lambda b: b["lines"].append(b["lines"][0]), ("lines",)),
        (lambda b: b.update(donor=b["donor"] + "x"), ("donor",)),
        (lambda b: b.update(airway_bill=b["airway_bill"] + "1"), ("airway_bill",)),
        (lambda b: b["lines"][0]["lots"][0].update(lot_number="L" * 33), ("lines", 0, "lots", 0)),
        (lambda b: b["lines"][0].update(quantity=MAX_QUANTITY + 1), ("lines", 0, "quantity")),
        (lambda b: b["lines"][0].update(pack_size=10**6 + 1), ("lines", 0, "pack_size")),
        (lambda b: b.update(donor="COVAX\x00"), ("donor",)),
        (lambda b: b.update(consignee="NIHE\x1b[31m"), ("consignee",)),
        (lambda b: b["lines"][0].update(product="Vax\x7f"), ("lines", 0, "product")),
        (lambda b: b["lines"][0]["lots"][0].update(lot_number="AB\u00e9"), ("lines", 0, "lots")),
        (lambda b: b.update(airway_bill="---"), ("airway_bill",)),
    ],
)
def test_one_more_is_refused_naming_the_field(change: Any, location: tuple[Any, ...]) -> None:
    body = largest_body()
    change(body)
    with pytest.raises(ValidationError) as refused:
        ShipmentCreate.model_validate(body)
    assert refused.value.errors()[0]["loc"][: len(location)] == location


def test_remarks_may_span_lines_but_carry_no_other_control_character() -> None:
    entry = [{"line_no": 1, "lot_number": "A", "quantity": 1}]
    assert ArrivalCreate(arrived_at=NOW, received=entry, remarks="two\nlines\tand a tab")  # type: ignore[arg-type]
    for bad in ("\x00", "\r", "\x1b", "\x7f"):
        with pytest.raises(ValidationError) as refused:
            ArrivalCreate(arrived_at=NOW, received=entry, remarks=f"a{bad}b")  # type: ignore[arg-type]
        assert refused.value.errors()[0]["loc"] == ("remarks",)
        assert "control characters" in refused.value.errors()[0]["msg"]
    too_many = entry * (MAX_RECEIVED + 1)
    with pytest.raises(ValidationError):
        ArrivalCreate(arrived_at=NOW, received=too_many)  # type: ignore[arg-type]


def test_an_event_with_a_nul_is_undecodable() -> None:
    (event,) = announce(largest_body(1) | {"lines": largest_body(1)["lines"][:1]})
    data = event.to_data() | {"donor": "COVAX\x00"}
    with pytest.raises(UndecodableEvent, match="donor"):
        registry.decode(event.event_type, data)
    quantity = event.to_data()
    quantity["lines"][0]["quantity"] = 10**30
    with pytest.raises(UndecodableEvent, match="quantity"):
        registry.decode(event.event_type, quantity)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expected_arrival": NOW + timedelta(days=366)}, "expected_arrival"),
        ({"expected_arrival": NOW - timedelta(days=366)}, "expected_arrival"),
        ({"expected_arrival": datetime(9999, 12, 31, tzinfo=UTC)}, "expected_arrival"),
    ],
)
def test_dates_outside_the_plausible_window_are_refused(change: dict[str, Any], field: str) -> None:
    body = largest_body(1) | {k: v.isoformat() for k, v in change.items()}
    with pytest.raises(InvalidInput) as refused:
        announce(body)
    assert refused.value.field == field and refused.value.code == "implausible-date"


def test_an_expiry_more_than_ten_years_away_is_refused() -> None:
    body = largest_body(1)
    body["lines"][3]["lots"][0]["expiry_date"] = (NOW.date() + timedelta(days=3660)).isoformat()
    with pytest.raises(InvalidInput) as refused:
        announce(body)
    assert refused.value.field == "lines/3/lots/0/expiry_date"
    body["lines"][3]["lots"][0]["expiry_date"] = date(1, 1, 1).isoformat()
    with pytest.raises(InvalidInput) as expired:
        announce(body)
    assert expired.value.code == "expired-lot"


def test_an_arrival_more_than_a_year_ago_is_refused() -> None:
    (announced,) = announce(largest_body(1))
    assert isinstance(announced, ShipmentAnnounced)
    state = intake.decider.fold([announced])
    received = (
        ReceivedLot(line_no=1, lot_number=announced.lines[0].lots[0].lot_number, quantity=1),
    )
    long_ago = intake.RecordArrival(NOW - timedelta(days=400), received, "", NOW)
    with pytest.raises(InvalidInput) as refused:
        intake.decider.decide(long_ago, state)
    assert refused.value.field == "arrived_at" and refused.value.code == "implausible-date"
