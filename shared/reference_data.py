"""Reference data every service agrees on: the 34 provinces (2025 codes), the national
recipients (the army, the police, National EPI, lot testing, the Ministry's hospitals) and
the airports.

Written from the team's sourced reference tables; population_scale is the weight of the
default allocation policy.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Province:
    code: str
    name_vi: str
    name_en: str
    kind: str
    population_scale: int


@dataclass(frozen=True)
class NationalRecipient:
    """A recipient of a fixed quota; it has an inbox like a province, but no population."""

    code: str
    name_vi: str
    name_en: str
    ultra_cold: bool


@dataclass(frozen=True)
class Airport:
    iata: str
    icao: str
    name_vi: str
    name_en: str
    province_code: str


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def provinces() -> tuple[Province, ...]:
    rows = _rows("provinces.csv")
    return tuple(
        sorted(
            (
                Province(
                    r["code"], r["name_vi"], r["name_en"], r["kind"], int(r["population_scale"])
                )
                for r in rows
            ),
            key=lambda p: p.code,
        )
    )


@cache
def province_codes() -> tuple[str, ...]:
    return tuple(p.code for p in provinces())


@cache
def national_recipients() -> tuple[NationalRecipient, ...]:
    return tuple(
        NationalRecipient(r["code"], r["name_vi"], r["name_en"], r["ultra_cold"] == "true")
        for r in _rows("national_recipients.csv")
    )


@cache
def recipient_codes() -> frozenset[str]:
    """Every code with an inbox: the national recipients and the provinces."""
    return frozenset(r.code for r in national_recipients()) | frozenset(province_codes())


@cache
def airports() -> dict[str, Airport]:
    return {r["iata"]: Airport(**r) for r in _rows("airports.csv")}
