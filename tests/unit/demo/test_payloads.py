"""The replay's request bodies: deterministic, within the APIs' rules, and adding up."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from demo import payloads
from demo.calendar import Shift
from demo.consignments import Consignment, map_rows, read_rows
from shared.reference_data import airports

CONSIGNMENTS = map_rows(read_rows(), airports()).consignments
SHIFT = Shift(years=5)


@given(st.sampled_from(CONSIGNMENTS), st.integers(min_value=1, max_value=9999))
def test_a_declaration_number_has_12_digits_and_is_the_same_on_every_run(
    consignment: Consignment, copy: int
) -> None:
    number = payloads.declaration_number(consignment, copy)
    assert len(number) == 12 and number.isdigit()
    assert number == payloads.declaration_number(consignment, copy)


def test_declaration_numbers_differ_per_consignment_and_copy() -> None:
    numbers = {payloads.declaration_number(c, copy) for c in CONSIGNMENTS for copy in (1, 2)}
    assert len(numbers) == 2 * len(CONSIGNMENTS)


def test_the_lane_is_the_one_the_note_names_else_green() -> None:
    first = CONSIGNMENTS[0]  # "first vaccine shipment; yellow lane; cleared same day"
    assert payloads.lane(first) == "yellow"
    assert {payloads.lane(c) for c in CONSIGNMENTS[1:]} == {"green"}
    assert not any(payloads.fast_tracked(c) for c in CONSIGNMENTS)  # no note says so


def test_the_inspection_counts_every_announced_unit() -> None:
    for consignment in CONSIGNMENTS:
        announced = payloads.announcement(consignment, 1, SHIFT, date(2026, 12, 1))
        counted = payloads.inspection(consignment, SHIFT)
        assert [lot["counted"] for lot in counted["lots"]] == [
            line["quantity"] for line in announced["lines"]
        ]
        assert counted["flight"] == announced["flight"]
        assert all(
            lot["lot_number"] == (line["lots"][0]["lot_number"] if line["lots"] else "")
            for lot, line in zip(counted["lots"], announced["lines"], strict=True)
        )


def test_a_supply_notice_is_dispatched_as_one_lot_of_its_quantity() -> None:
    notice = {"notice_number": "R-ABC-01-2", "quantity": 40, "lots": []}
    body = payloads.dispatch(notice, date(2026, 12, 1))
    [lot] = body["lots"]
    assert lot["quantity"] == 40 and lot["lot_number"] and lot["expiry_date"] > "2026-12-01"
    assert payloads.dispatch(notice | {"lots": [{"lot_number": "L1"}]}, date(2026, 12, 1)) == {
        "carrier": payloads.CARRIER
    }


def test_the_receipt_accepts_every_dispatched_unit() -> None:
    notice = {"dispatched_lots": [{"lot_number": "A", "quantity": 3, "expiry_date": "x"}]}
    assert payloads.receipt(notice) == {"lots": [{"lot_number": "A", "counted": 3, "accepted": 3}]}


def test_decision_numbers_are_per_consignment_and_copy() -> None:
    first = CONSIGNMENTS[0]  # D21-0224-1
    assert payloads.decision_number(first, 1) == "2241/QĐ-BYT"
    assert payloads.decision_number(first, 2) == "2241-2/QĐ-BYT"
    numbers = {payloads.decision_number(c, copy) for c in CONSIGNMENTS for copy in (1, 2)}
    assert len(numbers) == 2 * len(CONSIGNMENTS)
