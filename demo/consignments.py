"""The 2021 CSV rows as consignments the intake API accepts, and the rows it cannot take.

Pure: reads the files, returns values. Rows of the same date, airport, donor and channel are
one consignment (the vaccine and the syringes or masks on the same aircraft). A row whose
airport, product, unit or donor cannot be mapped is returned as ``Unmapped`` with its
quantity, never dropped silently: loaded + not loaded = the CSV sums.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from demo import catalogue

DATA = Path(__file__).parent / "data"
SHIPMENTS = DATA / "shipments_2021.csv"
SUPPLIES = DATA / "supplies_2021.csv"
VACCINE_CONSIGNEE = "National EPI (NIHE)"
SUPPLY_CONSIGNEE = "Ministry of Health"


@dataclass(frozen=True)
class Row:
    """One CSV row in common terms; ``where`` is ``file:line`` for the report."""

    where: str
    day: date
    airport: str
    donor: str
    channel: str  # empty in supplies_2021.csv
    product: str
    quantity: int
    unit: str  # the CSV's unit (doses for shipments_2021.csv)
    note: str
    vaccine: bool  # a row of shipments_2021.csv


@dataclass(frozen=True)
class Line:
    product: str
    category: str
    unit: str
    storage: str
    pack_size: int
    quantity: int


@dataclass(frozen=True)
class Consignment:
    key: str  # D21-MMDD-K, the airway bill of the first copy
    day: date  # the 2021 arrival date
    airport: str
    donor: str
    channel: str
    consignee: str
    lines: tuple[Line, ...]
    sources: tuple[str, ...]  # file:line of the rows it was made from
    notes: tuple[str, ...] = ()  # their notes

    def quantity(self, unit: str) -> int:
        return sum(line.quantity for line in self.lines if line.unit == unit)


@dataclass(frozen=True)
class Unmapped:
    row: Row
    reason: str


@dataclass(frozen=True)
class Mapping:
    consignments: tuple[Consignment, ...]
    unmapped: tuple[Unmapped, ...]


def read_rows(shipments: Path = SHIPMENTS, supplies: Path = SUPPLIES) -> list[Row]:
    rows = [
        Row(
            f"{shipments.name}:{number}",
            date.fromisoformat(r["arrival_date"]),
            r["airport"].strip(),
            r["donor_or_channel"].strip(),
            r["channel_kind"].strip(),
            r["product"].strip(),
            int(r["doses"]),
            "dose",
            r["note"].strip(),
            True,
        )
        for number, r in _numbered(shipments)
    ]
    rows += [
        Row(
            f"{supplies.name}:{number}",
            date.fromisoformat(r["date"]),
            r["arrival_point"].strip(),
            r["donor"].strip(),
            "",
            r["item"].strip(),
            int(r["quantity"]),
            r["unit"].strip(),
            r["note"].strip(),
            False,
        )
        for number, r in _numbered(supplies)
    ]
    return rows


def _numbered(path: Path) -> Iterable[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as file:
        yield from enumerate(csv.DictReader(file), start=2)  # line 1 is the header


def map_rows(rows: list[Row], airports: Iterable[str]) -> Mapping:
    known = set(airports)
    vaccine_channels = {(r.day, r.airport, r.donor): r.channel for r in rows if r.vaccine}
    groups: dict[tuple[date, str, str, str], list[tuple[Row, Line]]] = defaultdict(list)
    unmapped: list[Unmapped] = []
    for row in rows:
        channel = (
            row.channel
            if row.vaccine
            else vaccine_channels.get(
                (row.day, row.airport, row.donor), catalogue.SUPPLY_CHANNELS.get(row.donor, "")
            )
        )
        line, reason = _line(row)
        if row.airport not in known:
            reason = f"airport {row.airport!r} is not an airport of the reference data" + (
                "" if row.airport else " (not stated)"
            )
        elif channel not in catalogue.CHANNELS:
            reason = f"no channel known for donor {row.donor!r}"
        if line is None or reason:
            unmapped.append(Unmapped(row, reason))
            continue
        groups[row.day, row.airport, row.donor, channel].append((row, line))
    return Mapping(_consignments(groups), tuple(unmapped))


def _line(row: Row) -> tuple[Line | None, str]:
    spec = catalogue.vaccine(row.product) if row.vaccine else catalogue.supply(row.product)
    if spec is None:
        return None, f"unknown product {row.product!r} (see demo/catalogue.py)"
    if catalogue.UNITS.get(row.unit) != spec.unit:
        return None, f"unit {row.unit!r} does not fit {row.product!r} ({spec.unit})"
    if row.quantity < 1:
        return None, f"quantity {row.quantity} is not positive"
    line = Line(row.product, spec.category, spec.unit, spec.storage, spec.pack_size, row.quantity)
    return line, ""


def _consignments(
    groups: dict[tuple[date, str, str, str], list[tuple[Row, Line]]],
) -> tuple[Consignment, ...]:
    made: list[Consignment] = []
    per_day: dict[date, int] = defaultdict(int)
    # Ordered by date, then by the first row's place: the K of D21-MMDD-K stays stable.
    ordered = sorted(groups.items(), key=lambda item: (item[0][0], _order(item[1][0][0])))
    for (day, airport, donor, channel), members in ordered:
        per_day[day] += 1
        lines = tuple(line for _, line in members)
        vaccine = any(line.category == catalogue.VACCINE for line in lines)
        made.append(
            Consignment(
                key=f"D21-{day:%m%d}-{per_day[day]}",
                day=day,
                airport=airport,
                donor=donor,
                channel=channel,
                consignee=VACCINE_CONSIGNEE if vaccine else SUPPLY_CONSIGNEE,
                lines=lines,
                sources=tuple(row.where for row, _ in members),
                notes=tuple(row.note for row, _ in members),
            )
        )
    return tuple(made)


def _order(row: Row) -> tuple[int, int]:
    return (0 if row.vaccine else 1, int(row.where.rsplit(":", 1)[1]))


def totals(rows: Iterable[Row]) -> dict[tuple[str, str], int]:
    """Quantity per (donor, API unit) of CSV rows, the sums the summary is checked against."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        sums[row.donor, catalogue.UNITS.get(row.unit, row.unit)] += row.quantity
    return dict(sums)


def loaded_totals(consignments: Iterable[Consignment]) -> dict[tuple[str, str], int]:
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for consignment in consignments:
        for line in consignment.lines:
            sums[consignment.donor, line.unit] += line.quantity
    return dict(sums)
