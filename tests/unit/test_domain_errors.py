"""Domain errors carry a kind, not a status: one table turns each kind into a problem."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from shared.contracts.rules import check_lots_add_up
from shared.decider import (
    DomainError,
    InvalidInput,
    NotFound,
    NotPermitted,
    RuleBroken,
    StateConflict,
)
from shared.http.problems import DOMAIN_ERRORS, status_of
from tests.unit.builders import line, lot


@pytest.mark.parametrize(
    ("kind", "status"),
    [(NotFound, 404), (NotPermitted, 403), (StateConflict, 409), (InvalidInput, 422)],
)
def test_each_kind_of_domain_error_has_one_status(kind: type[DomainError], status: int) -> None:
    assert status_of(kind("detail", code="x"))[0] == status


def test_every_kind_is_in_the_table_and_a_new_one_inherits_its_parents_status() -> None:
    assert set(DomainError.__subclasses__()) <= set(DOMAIN_ERRORS)
    assert status_of(RuleBroken("a rule"))[0] == 422

    class NoSuchNotice(NotFound):
        pass

    assert status_of(NoSuchNotice("gone")) == DOMAIN_ERRORS[NotFound]


def test_domain_errors_know_nothing_of_http() -> None:
    error = StateConflict("again", field="airway_bill", code="already-announced")
    assert not hasattr(error, "status") and not hasattr(error, "title")
    assert (error.field, error.code, error.detail) == ("airway_bill", "already-announced", "again")


@given(
    st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=5), st.integers(-3, 3)
)
def test_a_line_is_accepted_exactly_when_its_lots_add_up(quantities: list[int], off: int) -> None:
    lots = tuple(lot(f"L{i}", q) for i, q in enumerate(quantities))
    total = sum(quantities) + off
    assume(total >= 1)
    checked = line(1, total, lots=lots)
    if off == 0:
        check_lots_add_up(checked, "lines/0")
    else:
        with pytest.raises(InvalidInput) as refused:
            check_lots_add_up(checked, "lines/0")
        assert refused.value.code == "lots-do-not-add-up" and refused.value.field == "lines/0/lots"
