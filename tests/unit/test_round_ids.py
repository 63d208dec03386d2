"""Round ids and notice numbers are as unique as the shipment: no truncated hash."""

from __future__ import annotations

import uuid

from hypothesis import example, given
from hypothesis import strategies as st

from services.allocation.domain import notice_number_for, round_id_for
from services.intake.application import shipment_id_for

# Their shipment ids share the first 8 hex digits, which made one round id for both.
COLLIDING_BILLS = ("738-00025372", "738-00100129")


def test_the_two_han_bills_that_collided_get_two_rounds() -> None:
    first, second = (shipment_id_for("HAN", bill) for bill in COLLIDING_BILLS)
    assert first.hex[:8] == second.hex[:8]  # the collision the old round id had
    assert round_id_for(first) != round_id_for(second)


@given(st.uuids(), st.uuids())
@example(*(shipment_id_for("HAN", bill) for bill in COLLIDING_BILLS))
def test_distinct_shipments_get_distinct_round_ids(a: uuid.UUID, b: uuid.UUID) -> None:
    assert (round_id_for(a) == round_id_for(b)) == (a == b)


@given(st.lists(st.text(alphabet="0123456789-", min_size=3, max_size=12), unique=True))
def test_distinct_airway_bills_at_one_airport_get_distinct_round_ids(bills: list[str]) -> None:
    shipments = {shipment_id_for("HAN", bill) for bill in bills}
    assert len({round_id_for(s) for s in shipments}) == len(shipments)


@given(st.uuids(), st.uuids(), st.sampled_from(["01", "79", "NIHE"]), st.integers(1, 50))
def test_notice_numbers_follow_their_round(
    a: uuid.UUID, b: uuid.UUID, province: str, line: int
) -> None:
    same = notice_number_for(round_id_for(a), province, line) == notice_number_for(
        round_id_for(b), province, line
    )
    assert same == (a == b)
