"""A service's ASGI app in the test process, on the real database and broker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
from fastapi import FastAPI

from shared.auth import demo_users, issue_token
from shared.reference_data import province_codes
from shared.settings import Settings


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def settings_for(service: str, database_url: str, bootstrap: str, prefix: str) -> Settings:
    return Settings(
        service=service,
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        log_level="WARNING",
        env="development",
        demo_users=True,
    )


def bearer(user: str, settings: Settings, version: int = 1) -> dict[str, str]:
    """A built-in token for a demo user at this service (its account starts at version 1)."""
    principal = demo_users(province_codes())[user].principal
    token = issue_token(
        principal, settings.jwt_secret, timedelta(minutes=5), settings.service, version
    )
    return {"Authorization": f"Bearer {token}"}
