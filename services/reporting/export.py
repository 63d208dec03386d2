"""Every table of a report as CSV (one table) or XLSX (one sheet per table).

A report is turned into named tables of plain rows first (``tables_of``), so the pages,
the CSV and the workbook show the same columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from openpyxl import Workbook
from pydantic import BaseModel

from services.reporting.domain.picture import Dashboard, NationalRow, ProvinceRow, TotalRow
from services.reporting.domain.reports import (
    DonorReport,
    NoticeLine,
    ProvinceSummary,
    RecipientSummary,
)
from services.reporting.queries import Timeline

Cell = str | int | float | None
Table = tuple[str, list[str], list[list[Cell]]]

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Cell:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _table(name: str, rows: Sequence[BaseModel], columns: Sequence[str]) -> Table:
    return (
        name,
        list(columns),
        [[_cell(getattr(row, c)) for c in columns] for row in rows],
    )


def _columns(model: type[BaseModel], skip: Sequence[str] = ()) -> list[str]:
    return [name for name in model.model_fields if name not in skip]


def dashboard_tables(d: Dashboard) -> list[Table]:
    lead = [
        ("lead_times", ["step", "target", "count", "within_target", "p50_hours", "p90_hours"]),
    ]
    buckets = [
        [s.step.value, "inf" if b.le_hours is None else b.le_hours, b.count]
        for s in d.lead_times
        for b in s.buckets
    ]
    return [
        _table("pipeline", d.pipeline, ["stage", "consignments", "doses"]),
        *(_table(name, d.lead_times, cols) for name, cols in lead),
        ("lead_time_histogram", ["step", "le_hours", "count"], buckets),  # type: ignore[list-item]
        _table("provinces", d.provinces, _columns(ProvinceRow)),
        _table("national", d.national, _columns(NationalRow)),
        *donor_tables(d.donors),
        _table("channels", d.channels, _columns(TotalRow)),
        _table(
            "products",
            d.products,
            ["product", "category", "unit", "announced", "released", "allocated", "received"],
        ),
        _table("stuck", d.stuck, ["kind", "shipment_id", "reference", "since", "detail"]),
    ]


def donor_tables(donors: Sequence[TotalRow]) -> list[Table]:
    return [_table("donors", donors, _columns(TotalRow))]


def donor_report_tables(r: DonorReport) -> list[Table]:
    consignments = [
        [
            c.shipment_id,
            c.airway_bill,
            c.flight,
            c.airport,
            c.channel,
            c.stage.value,
            _cell(c.announced_at),
            _cell(c.arrived_at),
            _cell(c.released_at),
            line.product,
            line.unit,
            line.announced,
            line.accepted,
            line.released,
        ]
        for c in r.consignments
        for line in c.lines
    ]
    rejections: list[list[Cell]] = [
        [c.shipment_id, x.where, x.product, x.reason, x.quantity, x.note]
        for c in r.consignments
        for x in c.rejections
    ]
    return [
        (
            "consignments",
            [
                "shipment_id",
                "airway_bill",
                "flight",
                "airport",
                "channel",
                "stage",
                "announced_at",
                "arrived_at",
                "released_at",
                "product",
                "unit",
                "announced",
                "accepted",
                "released",
            ],
            consignments,
        ),
        _table(
            "recipients",
            r.recipients,
            ["province_code", "product", "unit", "allocated", "received"],
        ),
        (
            "rejections",
            ["shipment_id", "where", "product", "reason", "quantity", "note"],
            rejections,
        ),
    ]


def province_tables(s: ProvinceSummary) -> list[Table]:
    return [
        _table("province", [s.province], _columns(ProvinceRow)),
        _table("notices", s.notices, _columns(NoticeLine)),
        _table("rejections", s.rejections, ["where", "product", "reason", "quantity", "note"]),
    ]


def recipient_tables(s: RecipientSummary) -> list[Table]:
    return [
        _table("recipient", [s.recipient], _columns(NationalRow)),
        _table("notices", s.notices, _columns(NoticeLine)),
        _table("rejections", s.rejections, ["where", "product", "reason", "quantity", "note"]),
    ]


def timeline_tables(t: Timeline) -> list[Table]:
    rows: list[list[Cell]] = [
        [e.recorded_at.isoformat(), e.service, e.event, e.version, e.actor] for e in t.events
    ]
    return [("events", ["recorded_at", "service", "event", "version", "actor"], rows)]


def _safe(value: Cell) -> Cell:
    """A text cell that a spreadsheet would read as a formula is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(table: Table) -> bytes:
    _, columns, rows = table
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([[_safe(v) for v in row] for row in rows])
    return out.getvalue().encode("utf-8-sig")  # the BOM makes spreadsheets read UTF-8


def to_xlsx(tables: Sequence[Table]) -> bytes:
    book = Workbook(write_only=True)
    for name, columns, rows in tables:
        sheet = book.create_sheet(title=name[:31])
        sheet.append(columns)
        for row in rows:
            sheet.append([_safe(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
