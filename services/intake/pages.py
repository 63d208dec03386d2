"""Intake officers' pages: consignments at their airports, the announce and arrival forms,
the inspection of an arrival part, the VAR (to file and to print), amend, cancel, close and
the history. The forms send their commands to the API (``intake-forms.js``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.intake import queries
from services.intake.domain import AIRPORT_REJECTIONS
from services.intake.queries import ShipmentDetail
from shared.auth import Principal, Role
from shared.contracts.intake import Coolant, LoggerAlarm, VarDocument
from shared.contracts.values import (
    Category,
    Channel,
    Priority,
    RejectionReason,
    Storage,
    Unit,
)
from shared.http.deps import RuntimeDep
from shared.http.pages import PageForbidden, page_row, signed_in
from shared.http.rendering import render
from shared.http.security import MaybeUser
from shared.reference_data import airports

router = APIRouter(include_in_schema=False)
OFFICERS = (Role.INTAKE_OFFICER, Role.INTAKE_SUPERVISOR)
READERS = (*OFFICERS, Role.NATIONAL_VIEWER)
EXTRA_LOT_ROWS = 3  # blank rows for lots found off the manifest
PROBLEM_BOX_ROWS = 3
ANNOUNCED_FIELDS = ("product", "category", "unit", "pack_size", "quantity", "storage", "lots")


@router.get("/", response_class=HTMLResponse)
async def shipments(request: Request, runtime: RuntimeDep, user: MaybeUser) -> HTMLResponse:
    reader = signed_in(user, *READERS)
    found = await queries.latest_shipments(runtime.pool, reader.visible())
    overdue = await queries.overdue_reports(runtime.pool, reader.visible(), datetime.now(UTC))
    return render(
        request,
        "shipments.html",
        user=reader,
        shipments=[page_row(s.model_dump()) for s in found],
        overdue=[page_row(r.model_dump()) for r in overdue],
    )


@router.get("/shipments/new", response_class=HTMLResponse)
async def announce_form(request: Request, user: MaybeUser) -> HTMLResponse:
    officer = signed_in(user, *OFFICERS)
    return render(request, "announce.html", user=officer, **announce_choices(officer))


@router.get("/shipments/{shipment_id}", response_class=HTMLResponse)
async def shipment(
    shipment_id: UUID, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    reader = signed_in(user, *READERS)
    found = await _visible(runtime, shipment_id, reader)
    if found is None:
        return render(request, "not_found.html", status_code=404, user=reader)
    return render(request, "shipment.html", user=reader, shipment=page_row(found.model_dump()))


@router.get("/shipments/{shipment_id}/inspection", response_class=HTMLResponse)
async def inspection_form(
    shipment_id: UUID, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    officer = signed_in(user, *OFFICERS)
    found = await _visible(runtime, shipment_id, officer)
    if found is None:
        return render(request, "not_found.html", status_code=404, user=officer)
    row = page_row(found.model_dump())
    return render(
        request,
        "inspection.html",
        user=officer,
        shipment=row,
        rows=lot_rows(found),
        extra_rows=EXTRA_LOT_ROWS,
        reasons=[r for r in RejectionReason if r in AIRPORT_REJECTIONS],
        supervisor=officer.role is Role.INTAKE_SUPERVISOR,
        vaccine_lines=[line for line in row["lines"] if line["category"] == Category.VACCINE],
        choices=var_choices(),
    )


@router.get("/shipments/{shipment_id}/var/{part_no}/{line_no}", response_class=HTMLResponse)
async def var_form(
    shipment_id: UUID,
    part_no: int,
    line_no: int,
    request: Request,
    runtime: RuntimeDep,
    user: MaybeUser,
) -> HTMLResponse:
    officer = signed_in(user, *OFFICERS)
    found = await _visible(runtime, shipment_id, officer)
    report = (
        next(
            (r for r in found.arrival_reports if (r.part_no, r.line_no) == (part_no, line_no)),
            None,
        )
        if found
        else None
    )
    if found is None or report is None:
        return render(request, "not_found.html", status_code=404, user=officer)
    row = page_row(found.model_dump())
    line = next(line for line in row["lines"] if line["line_no"] == line_no)
    return render(
        request,
        "var_file.html",
        user=officer,
        shipment=row,
        report=page_row(report.model_dump()),
        line=line,
        choices=var_choices(),
    )


@router.get("/shipments/{shipment_id}/var", response_class=HTMLResponse)
async def var_print(
    shipment_id: UUID, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    reader = signed_in(user, *READERS)
    found = await _visible(runtime, shipment_id, reader)
    if found is None:
        return render(request, "not_found.html", status_code=404, user=reader)
    return render(
        request,
        "var.html",
        user=reader,
        shipment=page_row(found.model_dump()),
        reports=report_sheets(found),
    )


@router.get("/shipments/{shipment_id}/amend", response_class=HTMLResponse)
async def amend_form(
    shipment_id: UUID, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    officer = signed_in(user, *OFFICERS)
    found = await _visible(runtime, shipment_id, officer)
    if found is None:
        return render(request, "not_found.html", status_code=404, user=officer)
    lines = [{k: line[k] for k in ANNOUNCED_FIELDS} for line in found.lines]
    return render(
        request,
        "amend.html",
        user=officer,
        shipment=page_row(found.model_dump()),
        channels=list(Channel),
        priorities=list(Priority),
        lines_json=json.dumps(lines, ensure_ascii=False),
    )


@router.get("/shipments/{shipment_id}/{action}", response_class=HTMLResponse)
async def reason_form(
    shipment_id: UUID, action: str, request: Request, runtime: RuntimeDep, user: MaybeUser
) -> HTMLResponse:
    """The cancel and close forms, and the history page."""
    reader = signed_in(user, *(READERS if action == "history" else OFFICERS))
    found = await _visible(runtime, shipment_id, reader)
    if found is None or action not in ("cancel", "close", "history"):
        return render(request, "not_found.html", status_code=404, user=reader)
    row = page_row(found.model_dump())
    if action != "history":
        return render(request, "reason_form.html", user=reader, shipment=row, action=action)
    entries = await queries.history(runtime.pool, shipment_id)
    return render(
        request,
        "history.html",
        user=reader,
        shipment=row,
        history=[page_row(entry.model_dump()) | history_text(entry) for entry in entries],
    )


async def _visible(
    runtime: RuntimeDep, shipment_id: UUID, reader: Principal
) -> ShipmentDetail | None:
    found = await queries.shipment(runtime.pool, shipment_id)
    if found is None:
        return None
    if not reader.covers(found.airport):
        raise PageForbidden(reader)
    return await queries.shipment_detail(runtime.pool, shipment_id)


def announce_choices(officer: Principal) -> dict[str, Any]:
    """The select options of the announce form: the officer's airports and the enums."""
    return {
        "airports": [a for code, a in airports().items() if officer.covers(code)],
        "channels": list(Channel),
        "priorities": list(Priority),
        "categories": list(Category),
        "units": list(Unit),
        "storages": list(Storage),
    }


def var_choices() -> dict[str, Any]:
    return {
        "documents": list(VarDocument),
        "coolants": list(Coolant),
        "alarms": list(LoggerAlarm),
        "problem_boxes": PROBLEM_BOX_ROWS,
    }


def lot_rows(found: ShipmentDetail) -> list[dict[str, Any]]:
    """One row per announced lot (a line without lots is one row), prefilled with what has
    not been counted in earlier parts."""
    counted: dict[tuple[int, str], int] = {}
    for part in found.parts:
        for lot in part.lots:
            key = (lot["line_no"], lot["lot_number"])
            counted[key] = counted.get(key, 0) + lot["counted"]
    rows = []
    for line in found.lines:
        lots = line["lots"] or [{"lot_number": "", "quantity": line["quantity"]}]
        for lot in lots:
            key = (line["line_no"], lot["lot_number"])
            rows.append(
                {
                    "line_no": line["line_no"],
                    "product": line["product"],
                    "lot_number": lot["lot_number"],
                    "quantity": lot["quantity"],
                    "expiry_date": lot.get("expiry_date"),
                    "remaining": max(lot["quantity"] - counted.get(key, 0), 0),
                }
            )
    return rows


def report_sheets(found: ShipmentDetail) -> list[dict[str, Any]]:
    """Each VAR with what its part recorded of its line, for the printed sheet."""
    parts = {part.part_no: part for part in found.parts}
    sheets = []
    for report in found.arrival_reports:
        part = parts[report.part_no]
        sheets.append(
            page_row(report.model_dump())
            | {
                "flight": part.flight,
                "entered_cold_store_at": page_row(part.model_dump())["entered_cold_store_at"],
                "lots": [lot for lot in part.lots if lot["line_no"] == report.line_no],
            }
        )
    return sheets


def history_text(entry: queries.HistoryEntry) -> dict[str, str]:
    """The event's name (a catalog msgid) and its one-line gist."""
    name = entry.event_type.split(".")[2]
    data = entry.data
    gist = data.get("reason") or data.get("remarks") or ""
    if "part_no" in data and name == "ShipmentArrived":
        gist = f"#{data['part_no']} {data.get('flight', '')} {gist}".strip()
    elif name == "ArrivalReportFiled":
        gist = f"#{data['part_no']} / {data['line_no']}: {data.get('inspected_by', '')}"
    return {"name": name, "summary": str(gist)}
