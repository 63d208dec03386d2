"""The shape of a pure aggregate: ``decide(command, state) -> events`` and ``evolve(state, event)``.

Domain modules implement these as plain functions; the application layer loads a
stream, folds it with ``evolve``, calls ``decide`` and appends the result. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from shared.contracts.base import DomainEvent

S = TypeVar("S")
C = TypeVar("C")


class DomainError(Exception):
    """A command broke a business rule. ``status`` is the HTTP status it maps to."""

    status = 422
    title = "Business rule violated"

    def __init__(self, detail: str, *, field: str | None = None, code: str = "rule") -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.code = code


class InvalidCommand(DomainError):
    status = 422
    title = "Invalid command"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    """The command does not fit the current state (e.g. a second arrival)."""

    status = 409
    title = "Conflict with the current state"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class Decider(Generic[S, C]):
    """Bundles the three pure functions of an aggregate."""

    def __init__(
        self,
        initial: S,
        evolve: Callable[[S, DomainEvent], S],
        decide: Callable[[C, S], Sequence[DomainEvent]],
    ) -> None:
        self.initial = initial
        self.evolve = evolve
        self.decide = decide

    def fold(self, events: Iterable[DomainEvent]) -> S:
        state = self.initial
        for event in events:
            state = self.evolve(state, event)
        return state
