"""A recipient's webhooks (a province's or a national recipient's): register (the secret
shown once), list, delete, the delivery log, and replay from a point."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.allocation.api import RecipientCode, every_recipient, known_recipient
from services.allocation.webhooks import queries, registry, signing
from services.allocation.webhooks.queries import AttemptView, DeliveryView, EndpointView
from services.allocation.webhooks.settings import WebhookSettings
from shared.auth import Principal, Role
from shared.contracts.limits import NAME_LENGTH, Text
from shared.db import Conn
from shared.decider import InvalidInput
from shared.http.commands import IdempotencyKey, run_command
from shared.http.deps import RuntimeDep
from shared.http.security import CurrentUser
from shared.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["webhooks"])
hooks = APIRouter(prefix="/webhooks")
MAX_POSITION = 2**63 - 1
READERS = (Role.PROVINCE_OFFICER, Role.ALLOCATION_OFFICER, Role.NATIONAL_VIEWER)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class WebhookCreate(Model):
    url: Text = Field(
        min_length=8, max_length=2000, examples=["https://soyte.hanoi.gov.vn/aidport/hook"]
    )
    description: Text = Field("", max_length=NAME_LENGTH)


class WebhookPublic(EndpointView):
    """A registered endpoint; its secret is never shown again."""


class WebhookCreated(WebhookPublic):
    secret: str | None = Field(
        description="whsec_...: shown in this response only (null when a retry with the same"
        " Idempotency-Key replays it)"
    )


class ReplayCreate(Model):
    after_position: int = Field(0, ge=0, le=MAX_POSITION, description="events after it")
    since: datetime | None = Field(
        None, description="and recorded at or after this time (with its zone)"
    )


class ReplayStarted(BaseModel):
    replayed: int


class DeliveryPublic(DeliveryView):
    """One event for one endpoint: its webhook-id is ``event_id``."""


class AttemptPublic(AttemptView):
    """One attempt of the delivery log."""


def _settings() -> WebhookSettings:
    return WebhookSettings()


def _box(runtime: Runtime) -> signing.SecretBox:
    return signing.SecretBox(_settings().secret_key or runtime.settings.jwt_secret)


def _recipient(user: Principal, code: str, *roles: Role) -> None:
    known_recipient(code)
    user.require(*roles)
    user.require_scope(code, "recipient")


@hooks.post("", response_model=WebhookCreated, status_code=201)
async def register(
    code: RecipientCode,
    body: WebhookCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register an HTTPS endpoint for the recipient's notices, amendments and dispatches,
    signed per Standard Webhooks. The ``whsec_`` secret is in this response only."""
    _recipient(user, code, Role.PROVINCE_OFFICER)
    shown: dict[str, str] = {}

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        endpoint, secret = await registry.register(
            conn,
            _box(runtime),
            code,
            body.url,
            body.description,
            user.sub,
            runtime.settings.development,
        )
        shown["secret"] = secret  # kept out of the idempotency record
        return 201, {**endpoint.model_dump(mode="json"), "secret": None}

    response = await run_command(
        request, runtime, user, body.model_dump(mode="json"), action, idempotency_key
    )
    if shown:
        payload = {**_json(response), "secret": shown["secret"]}
        return JSONResponse(payload, status_code=201, headers={"Cache-Control": "no-store"})
    return response


def _json(response: JSONResponse) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(bytes(response.body))
    return loaded


@hooks.get("", response_model=list[WebhookPublic])
async def list_webhooks(
    code: RecipientCode, runtime: RuntimeDep, user: CurrentUser
) -> list[EndpointView]:
    _recipient(user, code, *READERS)
    return await queries.endpoints(runtime.pool, code)


@hooks.get("/{endpoint_id}", response_model=WebhookPublic)
async def get_webhook(
    code: RecipientCode, endpoint_id: UUID, runtime: RuntimeDep, user: CurrentUser
) -> EndpointView:
    _recipient(user, code, *READERS)
    return await queries.existing_endpoint(runtime.pool, code, endpoint_id)


@hooks.delete("/{endpoint_id}", response_model=WebhookPublic)
async def delete_webhook(
    code: RecipientCode,
    endpoint_id: UUID,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """No more deliveries; pending ones are cancelled. Deleting twice is harmless."""
    _recipient(user, code, Role.PROVINCE_OFFICER)

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        return 200, (await registry.remove(conn, code, endpoint_id)).model_dump(mode="json")

    return await run_command(
        request, runtime, user, {"delete": str(endpoint_id)}, action, idempotency_key
    )


@hooks.post("/{endpoint_id}/replay", response_model=ReplayStarted, status_code=202)
async def replay(
    code: RecipientCode,
    endpoint_id: UUID,
    body: ReplayCreate,
    request: Request,
    runtime: RuntimeDep,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Deliver again every notice, amendment and dispatch of the recipient after a position
    (an event's ``position``, e.g. from the delivery log) and/or since a time."""
    _recipient(user, code, Role.PROVINCE_OFFICER)
    give_up = _settings().give_up_seconds
    if body.since is not None and body.since.utcoffset() is None:
        raise InvalidInput("give a time zone (e.g. +07:00)", field="since", code="naive-time")

    async def action(conn: Conn) -> tuple[int, dict[str, Any]]:
        count = await registry.replay(
            conn, code, endpoint_id, body.after_position, body.since, give_up
        )
        return 202, {"replayed": count}

    return await run_command(
        request, runtime, user, body.model_dump(mode="json"), action, idempotency_key
    )


@hooks.get("/{endpoint_id}/deliveries", response_model=list[DeliveryPublic])
async def deliveries(
    code: RecipientCode,
    endpoint_id: UUID,
    runtime: RuntimeDep,
    user: CurrentUser,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed|cancelled)$")] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_POSITION)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[DeliveryView]:
    """Each event for this endpoint, newest first, with its status and attempts."""
    _recipient(user, code, *READERS)
    await queries.existing_endpoint(runtime.pool, code, endpoint_id)
    return await queries.deliveries(runtime.pool, endpoint_id, status, before, limit)


@hooks.get("/{endpoint_id}/attempts", response_model=list[AttemptPublic])
async def attempts(
    code: RecipientCode,
    endpoint_id: UUID,
    runtime: RuntimeDep,
    user: CurrentUser,
    before: Annotated[int | None, Query(ge=1, le=MAX_POSITION)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[AttemptView]:
    """The delivery log: every attempt, its status code or error, and when the next one is."""
    _recipient(user, code, *READERS)
    await queries.existing_endpoint(runtime.pool, code, endpoint_id)
    return await queries.attempts(runtime.pool, endpoint_id, before, limit)


router.include_router(every_recipient(hooks))
