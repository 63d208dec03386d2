"""Wires the reporting service: a read side. It consumes every service's topic into its own
projections, publishes nothing (no relay) and issues no commands."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.reporting import api, pages, projections
from shared.consumer import Reaction
from shared.http.app import create_app
from shared.runtime import Runtime, ServiceSpec
from shared.settings import load_settings

HERE = Path(__file__).parent


def reaction(runtime: Runtime) -> Reaction:
    return Reaction(projections.record, projections.record_batch)


SPEC = ServiceSpec(
    name="reporting",
    title="Reporting",
    migrations=HERE / "migrations",
    subscriptions=("intake", "customs", "allocation"),
    reaction=reaction,
    package_dir=HERE,
    background=(api.feed.run, projections.derive_missing_standings),
    publishes=False,
    rebuilder=projections.rebuild,
)


def create() -> FastAPI:
    return create_app(SPEC, load_settings(SPEC.name), [api.router, pages.router])


app = create()
