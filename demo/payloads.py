"""The request bodies of the replay: deterministic for a consignment, its copy and the shift.

The CSVs name no flights, lots or expiry dates: the flight is the consignment's key, each
vaccine line has one lot ``<key>-L<line>`` expiring 180 days after the run (the intake API
refuses expired lots), supply lines have none (received as one unnumbered lot).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from demo.calendar import Shift
from demo.consignments import Consignment

VIET_NAM = timezone(timedelta(hours=7))
ANNOUNCED_AT, ARRIVED_AT = time(8, 0), time(9, 30)  # local time on the (shifted) 2021 date
SHELF_LIFE = timedelta(days=180)
NO_LOT = ""  # the lot number of a line announced without lots


def airway_bill(consignment: Consignment, copy: int) -> str:
    """Copy 1 is the 2021 consignment; ``--scale N`` adds copies 2..N with fresh bills."""
    return consignment.key if copy == 1 else f"{consignment.key}-X{copy}"


def _compact(consignment: Consignment) -> str:
    return consignment.key.replace("-", "")


def lot_number(consignment: Consignment, line_no: int) -> str:
    return f"{_compact(consignment)}-L{line_no}"


def announcement(consignment: Consignment, copy: int, shift: Shift, today: date) -> dict[str, Any]:
    expiry = (today + SHELF_LIFE).isoformat()
    lines = []
    for line_no, line in enumerate(consignment.lines, start=1):
        lots = (
            [
                {
                    "lot_number": lot_number(consignment, line_no),
                    "expiry_date": expiry,
                    "quantity": line.quantity,
                }
            ]
            if line.category == "vaccine"
            else []
        )
        lines.append(
            {
                "product": line.product,
                "category": line.category,
                "unit": line.unit,
                "pack_size": line.pack_size,
                "quantity": line.quantity,
                "storage": line.storage,
                "lots": lots,
            }
        )
    landing = datetime.combine(shift(consignment.day), ANNOUNCED_AT, VIET_NAM)
    return {
        "donor": consignment.donor,
        "channel": consignment.channel,
        "airport": consignment.airport,
        "flight": _compact(consignment),
        "airway_bill": airway_bill(consignment, copy),
        "expected_arrival": landing.isoformat(),
        "consignee": consignment.consignee,
        "lines": lines,
    }


def arrival(consignment: Consignment, shift: Shift) -> dict[str, Any]:
    """Everything announced arrived: the 2021 reports name no shortfall."""
    received = [
        {
            "line_no": line_no,
            "lot_number": lot_number(consignment, line_no)
            if line.category == "vaccine"
            else NO_LOT,
            "quantity": line.quantity,
        }
        for line_no, line in enumerate(consignment.lines, start=1)
    ]
    landed = datetime.combine(shift(consignment.day), ARRIVED_AT, VIET_NAM)
    return {"arrived_at": landed.isoformat(), "received": received, "remarks": remarks(consignment)}


def remarks(consignment: Consignment) -> str:
    """Where the consignment comes from: the CSV rows, and their notes."""
    return "; ".join(
        ["2021 replay of " + ", ".join(consignment.sources), *filter(None, consignment.notes)]
    )


def fast_track(consignment: Consignment, copy: int) -> dict[str, Any]:
    return {
        "declaration_number": "D" + airway_bill(consignment, copy).replace("-", ""),
        "lane": "green",
        "examination": "none",
        "remarks": "2021 replay: relief consignment on the fast track",
    }
