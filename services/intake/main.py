"""Wires the intake service: its spec, its routers, the ASGI app for uvicorn."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.intake import api, pages
from services.intake.application import PROJECTIONS
from shared.http.app import create_app
from shared.runtime import ServiceSpec
from shared.settings import load_settings

HERE = Path(__file__).parent

SPEC = ServiceSpec(
    name="intake",
    title="Intake",
    migrations=HERE / "migrations",
    projections=PROJECTIONS,
    package_dir=HERE,
)


def create() -> FastAPI:
    return create_app(SPEC, load_settings(SPEC.name), [api.router, pages.router])


app = create()
