"""What every service's read side shares: the view base and the one jsonb decoder.

Each service's ``queries.py`` reads its projection tables into views built on ``View``;
a jsonb column is decoded here, whether or not a codec on the pool already did it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Self, TypeAlias

import asyncpg
from pydantic import BaseModel, BeforeValidator, ConfigDict

from shared.db import Conn

Db: TypeAlias = Conn | asyncpg.Pool
"""Where a query reads: the command's transaction, or any pooled connection."""


def decoded(value: Any) -> Any:
    """A jsonb column as asyncpg hands it over: text without a codec, the value with one."""
    return json.loads(value) if isinstance(value, str | bytes) else value


JsonList = Annotated[list[dict[str, Any]], BeforeValidator(decoded)]
OptionalJsonList = Annotated[list[dict[str, Any]] | None, BeforeValidator(decoded)]


class View(BaseModel):
    """A row of a projection as the API and the pages read it; bookkeeping columns such as
    ``last_position`` are left out."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @classmethod
    def of(cls, row: asyncpg.Record) -> Self:
        return cls.model_validate(dict(row))
