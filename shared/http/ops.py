"""Operations endpoints: health and the admin actions on the pipeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from shared.auth import Role
from shared.http.deps import RuntimeDep
from shared.http.security import CurrentUser


def ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @router.get("/health/ready")
    async def ready(runtime: RuntimeDep) -> JSONResponse:
        checks = {
            "database": await runtime.database_ready(),
            "broker": await runtime.broker_ready(),
        }
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/admin/parked")
    async def parked(runtime: RuntimeDep, user: CurrentUser) -> list[dict[str, Any]]:
        user.require(Role.ADMIN)
        if runtime.consumer is None:
            return []
        return [p.__dict__ for p in await runtime.consumer.parked()]

    @router.post("/admin/parked/{subject}/retry")
    async def retry(subject: str, runtime: RuntimeDep, user: CurrentUser) -> dict[str, Any]:
        user.require(Role.ADMIN)
        if runtime.consumer is None:
            return {"subject": subject, "still_parked": 0}
        return {"subject": subject, "still_parked": await runtime.consumer.retry_parked(subject)}

    @router.post("/admin/projections/rebuild")
    async def rebuild(runtime: RuntimeDep, user: CurrentUser) -> dict[str, int]:
        user.require(Role.ADMIN)
        return {"events_replayed": await runtime.rebuild_projections()}

    return router
