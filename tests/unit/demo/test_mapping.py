"""The 2021 CSVs as consignments: every row loaded or reported, and the sums kept."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from demo import payloads
from demo.calendar import WINDOW, Shift, shift_for
from demo.client import retry_after
from demo.consignments import SHIPMENTS, SUPPLIES, map_rows, read_rows
from demo.summary import differences, donor_doses, totals_of
from shared.reference_data import airports

ROWS = read_rows()
MAPPING = map_rows(ROWS, airports())


def csv_sum(path: Path, column: str) -> int:
    with path.open(newline="", encoding="utf-8") as file:
        return sum(int(row[column]) for row in csv.DictReader(file))


def test_every_row_is_loaded_exactly_once_or_reported() -> None:
    loaded = Counter(where for c in MAPPING.consignments for where in c.sources)
    reported = Counter(u.row.where for u in MAPPING.unmapped)
    assert set(loaded.values()) == {1} and not loaded.keys() & reported.keys()
    assert loaded + reported == Counter(row.where for row in ROWS)
    assert len(ROWS) == 23 + 14


def test_the_rows_without_an_airport_are_reported_with_the_reason() -> None:
    reasons = {u.row.where: u.reason for u in MAPPING.unmapped}
    assert reasons.keys() == {
        "shipments_2021.csv:13",  # COVAX, August 2021: "airport not stated"
        "supplies_2021.csv:8",  # India's liquid oxygen, by ship to HCMC
        "supplies_2021.csv:9",
    }
    assert "not stated" in reasons["shipments_2021.csv:13"]
    assert "HCMC seaport" in reasons["supplies_2021.csv:8"]


def test_doses_loaded_plus_not_loaded_equal_the_csv_sum() -> None:
    loaded = sum(c.quantity("doses") for c in MAPPING.consignments)
    reported = sum(u.row.quantity for u in MAPPING.unmapped if u.row.unit == "dose")
    assert loaded + reported == csv_sum(SHIPMENTS, "doses") == 17_285_300 + 1_188_000
    assert reported == 1_188_000
    sums = totals_of(ROWS, MAPPING.consignments, MAPPING.unmapped)
    assert sums.balanced
    assert sum(sums.csv.values()) == csv_sum(SHIPMENTS, "doses") + csv_sum(SUPPLIES, "quantity")


def test_each_line_is_mapped_to_the_products_label_facts() -> None:
    lines = {line.product: line for c in MAPPING.consignments for line in c.lines}
    moderna = lines["Spikevax (Moderna)"]
    assert (moderna.category, moderna.unit, moderna.storage, moderna.pack_size) == (
        "vaccine",
        "doses",
        "-25to-15C",
        14,
    )
    assert lines["Comirnaty (Pfizer-BioNTech)"].storage == "-90to-60C"
    assert lines["AstraZeneca (made in Japan)"].pack_size == 10
    assert (lines["rapid antigen test kit"].category, lines["rapid antigen test kit"].unit) == (
        "medical_supply",
        "kits",
    )
    assert lines["ultra-low-temperature freezer"].category == "equipment"
    assert lines["ventilators and monitors"].unit == "tonnes"


def test_supplies_on_the_same_aircraft_join_the_vaccine_consignment() -> None:
    china = next(c for c in MAPPING.consignments if c.key == "D21-0620-1")
    assert [line.product for line in china.lines] == [
        "Vero Cell (Sinopharm)",
        "auto-disable syringe 1 ml",
    ]
    assert china.channel == "bilateral_donation" and china.consignee == "National EPI (NIHE)"
    overseas = next(c for c in MAPPING.consignments if c.donor.startswith("Overseas"))
    assert overseas.channel == "private_donation" and len(overseas.lines) == 4


def test_airway_bills_are_unique_and_stable() -> None:
    keys = [c.key for c in MAPPING.consignments]
    assert len(keys) == len(set(keys)) == 27
    assert keys[0] == "D21-0224-1" and keys == [
        c.key for c in map_rows(ROWS, airports()).consignments
    ]
    bills = {payloads.airway_bill(c, copy) for c in MAPPING.consignments for copy in (1, 2, 3)}
    assert len(bills) == 3 * 27


def test_an_unknown_product_or_donor_is_reported_not_dropped() -> None:
    row = ROWS[-1]
    odd = [
        row.__class__(**{**row.__dict__, "where": "x:2", "product": "hand sanitiser"}),
        row.__class__(**{**row.__dict__, "where": "x:3", "donor": "Someone"}),
    ]
    mapping = map_rows(odd, airports())
    assert not mapping.consignments
    assert [u.reason.split()[0] for u in mapping.unmapped] == ["unknown", "no"]


@given(st.dates(date(2022, 1, 1), date(2099, 12, 31)))
def test_the_shift_puts_2021_inside_the_intake_window(today: date) -> None:
    days = [c.day for c in MAPPING.consignments]
    shift = shift_for(days, today)
    assert today - WINDOW < shift(min(days)) and shift(max(days)) < today
    # Intervals kept: exactly by weeks; by years up to the 29 February a shift may add.
    stretch = (shift(max(days)) - shift(min(days))) - (max(days) - min(days))
    assert stretch == timedelta(0) or (shift.years and stretch == timedelta(days=1))


def test_the_shift_keeps_2021_dates_when_whole_years_fit() -> None:
    shift = shift_for([date(2021, 2, 24), date(2021, 10, 25)], date(2026, 12, 1))
    assert shift == Shift(years=5) and shift(date(2021, 2, 24)) == date(2026, 2, 24)
    weeks = shift_for([date(2021, 2, 24), date(2021, 10, 25)], date(2027, 3, 1))
    assert weeks.years == 0 and weeks(date(2021, 2, 24)).weekday() == 2


def test_the_payloads_fit_the_intake_rules() -> None:
    today = date(2026, 12, 1)
    shift = Shift(years=5)
    china = next(c for c in MAPPING.consignments if c.key == "D21-0620-1")
    body = payloads.announcement(china, 2, shift, today)
    assert body["airway_bill"] == "D21-0620-1-X2"
    assert body["expected_arrival"].startswith("2026-06-20T08:00:00+07:00")
    vaccine, syringes = body["lines"]
    assert vaccine["lots"][0]["quantity"] == vaccine["quantity"] == 500_000
    assert date.fromisoformat(vaccine["lots"][0]["expiry_date"]) > today + timedelta(weeks=10)
    assert syringes["lots"] == []
    arrival = payloads.arrival(china, shift)
    assert [r["lot_number"] for r in arrival["received"]] == ["D2106201-L1", ""]


def test_retry_after_is_honoured_in_seconds_and_as_a_date() -> None:
    assert retry_after("3", 1) == 3.0
    assert retry_after("Wed, 21 Oct 2015 07:28:05 GMT", 1, now=1445412480.0) == 5.0
    assert retry_after("nonsense", 1) == retry_after(None, 1) > 0
    assert retry_after("86400", 1) == 30.0


def _donor_row(key: str, *doses: int) -> dict[str, object]:
    stages = ("announced", "released", "allocated", "received")
    return {"key": key, "consignments": 1} | {
        f"{s}_doses": n for s, n in zip(stages, doses, strict=True)
    }


def test_the_dashboard_check_reads_reporting_s_donors_table() -> None:
    dashboard = {"pipeline": [], "donors": [_donor_row("Cuba", 5, 5, 4, 3)]}
    shown = donor_doses(dashboard)
    cuba = {"announced": 5, "released": 5, "allocated": 4, "received": 3}
    assert shown == {"Cuba": cuba}
    assert differences(shown, {"Cuba": cuba}) == []


def test_the_dashboard_check_names_each_difference() -> None:
    shown = donor_doses({"donors": [_donor_row("Cuba", 5, 3, 3, 3)]})
    expected = dict(
        zip(("announced", "released", "allocated", "received"), (5, 5, 3, 3), strict=True)
    )
    wrong = differences(shown, {"Cuba": expected, "Poland": expected})
    assert wrong == [
        "Cuba: released 3 (replay 5)",
        "Poland: announced 0 (replay 5), released 0 (replay 5), allocated 0 (replay 3), "
        "received 0 (replay 3)",
    ]


def test_with_a_limit_the_rest_counts_as_not_loaded() -> None:
    chosen, rest = MAPPING.consignments[:3], MAPPING.consignments[3:]
    sums = totals_of(ROWS, chosen, MAPPING.unmapped, rest)
    assert sums.balanced
    assert sum(n for (_, unit), n in sums.loaded.items() if unit == "doses") == 929_800


def test_the_arrival_remarks_name_the_source_rows() -> None:
    first = MAPPING.consignments[0]
    assert payloads.remarks(first) == (
        "2021 replay of shipments_2021.csv:2; first vaccine shipment; yellow lane; cleared same day"
    )
