"""Wires the customs service: its spec, its reactions, the ASGI app for uvicorn."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.customs import api, pages
from services.customs.application import PROJECTIONS
from services.customs.reactions import reaction
from shared.http.app import create_app
from shared.runtime import ServiceSpec
from shared.settings import load_settings

HERE = Path(__file__).parent

SPEC = ServiceSpec(
    name="customs",
    title="Customs",
    migrations=HERE / "migrations",
    projections=PROJECTIONS,
    subscriptions=("intake",),
    reaction=reaction,
    package_dir=HERE,
)


def create() -> FastAPI:
    return create_app(SPEC, load_settings(SPEC.name), [api.router, pages.router])


app = create()
