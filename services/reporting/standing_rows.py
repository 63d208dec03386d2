"""Consignments' standings as the rows of the tables the national picture adds up.

The projection writes them (``projections``); an ``as_of`` question passes the rows of the
consignments it replayed to the picture's queries instead (``queries``), so that both add
up the same rows with the same SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.reporting.domain.standing import Standing

TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "report_notices": (
        ("shipment_id", "text"), ("notice_number", "text"), ("recipient", "text"),
        ("donor", "text"), ("product", "text"), ("unit", "text"), ("doses", "bool"),
        ("quantity", "bigint"), ("accepted", "bigint"), ("allocated_at", "timestamptz"),
        ("acknowledged_at", "timestamptz"), ("dispatched_at", "timestamptz"),
        ("received_at", "timestamptz"),
    ),
    "report_lines": (
        ("shipment_id", "text"), ("n", "int"), ("product", "text"), ("category", "text"),
        ("unit", "text"), ("announced", "bigint"), ("released", "bigint"),
        ("allocated", "bigint"), ("received", "bigint"),
    ),
    "report_lead_times": (
        ("shipment_id", "text"), ("n", "int"), ("step", "text"), ("hours", "float8"),
        ("within_target", "bool"), ("bucket", "int"),
    ),
    "report_rejections": (
        ("shipment_id", "text"), ("n", "int"), ("at", "text"), ("product", "text"),
        ("reason", "text"), ("quantity", "bigint"), ("note", "text"),
    ),
    "report_deadlines": (
        ("shipment_id", "text"), ("n", "int"), ("kind", "text"), ("reference", "text"),
        ("since", "timestamptz"), ("detail", "text"), ("stuck_from", "timestamptz"),
    ),
}  # fmt: skip
"""Each table of the standings, with its columns (name, type) in order."""

SUMMARY_COLUMNS = (
    "counted", "in_totals", "channel", "stage", "current_doses", "announced_doses",
    "released_doses", "allocated_doses", "received_doses",
)  # fmt: skip
"""The standing's columns of ``report_consignments`` (after its id and donor)."""


def summaries(standings: Sequence[Standing]) -> list[tuple[Any, ...]]:
    """Each consignment's ``SUMMARY_COLUMNS``, in order."""
    return [
        (
            t.counted, t.in_totals, t.channel, t.stage.value, t.current_doses,
            t.announced_doses, t.released_doses, t.allocated_doses, t.received_doses,
        )
        for t in (s.totals for s in standings)
    ]  # fmt: skip


def rows_of(standings: Sequence[Standing]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every table in ``TABLES``, their columns in order."""
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in TABLES}
    for s in standings:
        sid = s.shipment_id
        rows["report_notices"] += [
            (sid, n.notice_number, n.recipient, n.donor, n.product, n.unit, n.doses, n.quantity,
             n.accepted, n.allocated_at, n.acknowledged_at, n.dispatched_at, n.received_at)
            for n in s.notices
        ]  # fmt: skip
        rows["report_lines"] += [
            (sid, k, r.product, r.category, r.unit, r.announced, r.released, r.allocated,
             r.received)
            for k, r in enumerate(s.lines)
        ]  # fmt: skip
        rows["report_lead_times"] += [
            (sid, k, lead.step.value, lead.hours, lead.within_target, lead.bucket)
            for k, lead in enumerate(s.lead_times)
        ]
        rows["report_rejections"] += [
            (sid, k, r.where, r.product, r.reason, r.quantity, r.note)
            for k, r in enumerate(s.rejections)
        ]
        rows["report_deadlines"] += [
            (sid, k, d.stuck.kind, d.stuck.reference, d.stuck.since, d.stuck.detail, d.stuck_from)
            for k, d in enumerate(s.deadlines)
        ]
    return rows


def as_records(standings: Sequence[Standing]) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows (``report_consignments``' standing columns included) as records
    keyed by column name: what ``jsonb_populate_recordset`` turns into the table's rows."""
    records = {
        table: [dict(zip((name for name, _ in TABLES[table]), row, strict=True)) for row in rows]
        for table, rows in rows_of(standings).items()
    }
    records["report_consignments"] = [
        {"shipment_id": s.shipment_id, "donor": s.totals.donor}
        | dict(zip(SUMMARY_COLUMNS, summary, strict=True))
        for s, summary in zip(standings, summaries(standings), strict=True)
    ]
    return records
