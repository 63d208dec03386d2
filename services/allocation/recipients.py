"""Who may receive an allocation: the national recipients (fixed quotas) and the 34
provinces, with their ultra-cold capacity: shared reference data, and the provinces' cold
chain in ``reference/ultra_cold.csv``.

Ultra-cold capacity sat with the national and regional institutes in 2021 (NIHE in Hà Nội,
the Pasteur Institutes of Nha Trang and Ho Chi Minh City, the Tây Nguyên institute): a
province without one receives ultra-cold vaccine only as thawed vials, outside this rule.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shared.reference_data import national_recipients, provinces

HERE = Path(__file__).parent / "reference"
NATIONAL = "national"


@dataclass(frozen=True)
class Recipient:
    code: str
    name_vi: str
    name_en: str
    kind: str  # national, city, province
    population_scale: int  # zero for national recipients
    ultra_cold: bool


def _rows(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


@cache
def recipients() -> tuple[Recipient, ...]:
    """National recipients first, then the provinces by code."""
    cold = {r["code"] for r in _rows("ultra_cold.csv") if r["ultra_cold"] == "true"}
    national = tuple(
        Recipient(r.code, r.name_vi, r.name_en, NATIONAL, 0, r.ultra_cold)
        for r in national_recipients()
    )
    local = tuple(
        Recipient(p.code, p.name_vi, p.name_en, p.kind, p.population_scale, p.code in cold)
        for p in provinces()
    )
    return national + local


@cache
def by_code() -> dict[str, Recipient]:
    return {r.code: r for r in recipients()}


def province_recipients() -> tuple[Recipient, ...]:
    return tuple(r for r in recipients() if r.kind != NATIONAL)
