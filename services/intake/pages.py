"""Intake officers' pages: consignments at their airports, the announce and arrival forms."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.intake import queries
from shared.auth import Principal, Role
from shared.contracts.values import Category, Channel, Storage, Unit
from shared.http.deps import RuntimeDep
from shared.http.pages import PageForbidden, page_row, signed_in
from shared.http.rendering import render
from shared.http.security import MaybeUser
from shared.reference_data import airports

router = APIRouter(include_in_schema=False)
READERS = (Role.INTAKE_OFFICER, Role.NATIONAL_VIEWER)


@router.get("/", response_class=HTMLResponse)
async def shipments(request: Request, runtime: RuntimeDep, user: MaybeUser) -> HTMLResponse:
    reader = signed_in(user, *READERS)
    found = await queries.latest_shipments(runtime.pool, reader.visible())
    return render(
        request,
        "shipments.html",
        user=reader,
        shipments=[page_row(s.model_dump()) for s in found],
    )


@router.get("/shipments/new", response_class=HTMLResponse)
async def announce_form(request: Request, user: MaybeUser) -> HTMLResponse:
    officer = signed_in(user, Role.INTAKE_OFFICER)
    return render(request, "announce.html", user=officer, **announce_choices(officer))


@router.get("/shipments/{shipment_id}", response_class=HTMLResponse)
async def shipment(
    shipment_id: UUID, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    reader = signed_in(user, *READERS)
    found = await queries.shipment(runtime.pool, shipment_id)
    if found is None:
        return render(request, "not_found.html", status_code=404, user=reader)
    if not reader.covers(found.airport):
        raise PageForbidden(reader)
    return render(request, "shipment.html", user=reader, shipment=page_row(found.model_dump()))


def announce_choices(officer: Principal) -> dict[str, Any]:
    """The select options of the announce form: the officer's airports and the enums."""
    return {
        "airports": [a for code, a in airports().items() if officer.covers(code)],
        "channels": list(Channel),
        "categories": list(Category),
        "units": list(Unit),
        "storages": list(Storage),
    }
