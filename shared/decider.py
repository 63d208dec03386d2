"""The shape of a pure aggregate: ``decide(command, state) -> events`` and ``evolve(state, event)``.

Domain modules implement these as plain functions; the application layer loads a
stream, folds it with ``evolve``, calls ``decide`` and appends the result. No I/O here.

Domain errors say what KIND of thing went wrong, never how a transport reports it: the
HTTP adapter maps each kind to a status in one table (``shared.http.problems``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from shared.contracts.base import DomainEvent

S = TypeVar("S")
C = TypeVar("C")


class DomainError(Exception):
    """A command cannot be carried out. ``field`` points at the input at fault, ``code`` is
    a stable reason that clients may act upon."""

    def __init__(self, detail: str, *, field: str | None = None, code: str = "rule") -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.code = code


class InvalidInput(DomainError):
    """The command's own data breaks a rule (an unknown airport, lots that do not add up)."""


class NotFound(DomainError):
    """The command or query names something that does not exist."""


class StateConflict(DomainError):
    """The command does not fit the current state (e.g. a second arrival)."""


class RuleBroken(DomainError):
    """A business rule forbids the command whatever its data and state say."""


class NotPermitted(DomainError):
    """The command is addressed to someone else's record (e.g. another province's notice)."""


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
        return self.fold_from(self.initial, events)

    def fold_from(self, state: S, events: Iterable[DomainEvent]) -> S:
        for event in events:
            state = self.evolve(state, event)
        return state
