"""Wires the allocation service: its spec, its reactions and live feed, the ASGI app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.allocation import api, delivery_api, pages, rounds_api
from services.allocation.application import PROJECTIONS
from services.allocation.reactions import reaction
from services.allocation.webhooks import api as webhooks_api
from services.allocation.webhooks import worker as webhooks
from services.allocation.webhooks.outbox import log_sweep
from shared.http.app import create_app
from shared.runtime import ServiceSpec
from shared.settings import load_settings

HERE = Path(__file__).parent

SPEC = ServiceSpec(
    name="allocation",
    title="Allocation",
    migrations=HERE / "migrations",
    projections=PROJECTIONS,
    subscriptions=("customs",),
    reaction=reaction,
    package_dir=HERE,
    background=(api.feed.run, webhooks.run),
    sweeps=(log_sweep,),
)


ROUTERS = [api.router, rounds_api.router, delivery_api.router, webhooks_api.router, pages.router]


def create() -> FastAPI:
    return create_app(SPEC, load_settings(SPEC.name), ROUTERS)


app = create()
