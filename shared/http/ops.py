"""Operations endpoints: health, and the admin API on the pipeline (dead letters, the relay's
quarantine, parked events, projections). Lists are paged by id: ``?after=<next_cursor>``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shared.eventstore import NOTIFY_CHANNEL
from shared.http.deps import RuntimeDep
from shared.http.problems import ProblemError
from shared.http.security import AdminUser
from shared.runtime import Runtime

After = Annotated[int, Query(ge=0, le=2**62, description="the next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=200)]
EntryId = Annotated[int, Path(ge=1, le=2**62)]
Subject = Annotated[str, Path(max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class SkipRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")


def paged(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": str(items[-1]["id"]) if more else None}


async def quarantine_page(runtime: Runtime, after: int, limit: int) -> list[dict[str, Any]]:
    rows = await runtime.pool.fetch(
        """SELECT id, position, stream_id, event_id, event_type, state, reason, requested,
                  attempts, since FROM relay_quarantine
           WHERE relay = $1 AND resolved_at IS NULL AND id > $2 ORDER BY id LIMIT $3""",
        runtime.spec.name,
        after,
        limit,
    )
    return [{**dict(r), "event_id": str(r["event_id"])} for r in rows]


async def request_quarantine(runtime: Runtime, entry_id: int, action: str, reason: str) -> None:
    """Asks the active relay to publish (or skip) a stream's set-aside events."""
    async with runtime.pool.acquire() as conn, conn.transaction():
        entry = await conn.fetchrow(
            "SELECT stream_id, state FROM relay_quarantine WHERE id = $1 AND relay = $2"
            " AND resolved_at IS NULL",
            entry_id,
            runtime.spec.name,
        )
        if entry is None:
            raise ProblemError(404, "Not quarantined", f"no open entry {entry_id}", "not-found")
        if action == "skip" and entry["state"] != "quarantined":
            raise ProblemError(
                409, "Held, not refused", "only a refused event can be skipped", "not-refused"
            )
        await conn.execute(
            """UPDATE relay_quarantine SET requested = $3, skip_reason = $4
               WHERE id = (SELECT id FROM relay_quarantine WHERE relay = $1 AND stream_id = $2
                           AND resolved_at IS NULL ORDER BY position LIMIT 1)""",
            runtime.spec.name,
            entry["stream_id"],
            action,
            reason or None,
        )
        await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")  # wakes the active relay


def ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/health/ready")
    async def ready(runtime: RuntimeDep) -> JSONResponse:
        """200 when every component works; 503 naming the failing ones otherwise."""
        components = await runtime.health()
        ok = all(c.ok for c in components.values())
        return JSONResponse(
            {
                "status": "ready" if ok else "not ready",
                "components": {name: c.as_json() for name, c in components.items()},
            },
            status_code=200 if ok else 503,
        )

    @router.get("/admin/dead-letters")
    async def dead_letters(
        runtime: RuntimeDep, _: AdminUser, after: After = 0, limit: Limit = 50
    ) -> dict[str, Any]:
        if runtime.consumer is None:
            return paged([], limit)
        rows = await runtime.consumer.dead_letters(after, limit + 1)
        return paged([asdict(r) for r in rows], limit)

    @router.post("/admin/dead-letters/{dead_letter_id}/retry")
    async def retry_dead_letter(
        dead_letter_id: EntryId,
        runtime: RuntimeDep,
        _: AdminUser,
    ) -> dict[str, Any]:
        if runtime.consumer is None:
            raise ProblemError(404, "No dead letter", "this service consumes nothing", "not-found")
        try:
            reason = await runtime.consumer.retry_dead_letter(dead_letter_id)
        except LookupError:
            raise ProblemError(
                404, "No dead letter", f"no open dead letter {dead_letter_id}", "not-found"
            ) from None
        return {"id": dead_letter_id, "resolved": reason is None, "reason": reason}

    @router.get("/admin/quarantine")
    async def quarantine(
        runtime: RuntimeDep, _: AdminUser, after: After = 0, limit: Limit = 50
    ) -> dict[str, Any]:
        return paged(await quarantine_page(runtime, after, limit + 1), limit)

    @router.post("/admin/quarantine/{entry_id}/retry", status_code=202)
    async def retry_quarantined(
        entry_id: EntryId, runtime: RuntimeDep, _: AdminUser
    ) -> dict[str, Any]:
        """The active relay publishes the stream's set-aside events in order, soon."""
        await request_quarantine(runtime, entry_id, "retry", "")
        return {"id": entry_id, "requested": "retry"}

    @router.post("/admin/quarantine/{entry_id}/skip", status_code=202)
    async def skip_quarantined(
        entry_id: EntryId,
        body: SkipRequest,
        runtime: RuntimeDep,
        user: AdminUser,
    ) -> dict[str, Any]:
        """The refused event is never published; the events held behind it are."""
        await request_quarantine(runtime, entry_id, "skip", f"{user.sub}: {body.reason}")
        return {"id": entry_id, "requested": "skip"}

    @router.get("/admin/parked")
    async def parked(
        runtime: RuntimeDep, _: AdminUser, after: After = 0, limit: Limit = 50
    ) -> dict[str, Any]:
        if runtime.consumer is None:
            return paged([], limit)
        rows = await runtime.consumer.parked(after, limit + 1)
        return paged([asdict(p) for p in rows], limit)

    @router.post("/admin/parked/{subject}/retry")
    async def retry(subject: Subject, runtime: RuntimeDep, _: AdminUser) -> dict[str, Any]:
        if runtime.consumer is None:
            return {"subject": subject, "still_parked": 0}
        return {"subject": subject, "still_parked": await runtime.consumer.retry_parked(subject)}

    @router.post("/admin/projections/rebuild")
    async def rebuild(runtime: RuntimeDep, _: AdminUser) -> dict[str, int]:
        return {"events_replayed": await runtime.rebuild_projections()}

    return router
