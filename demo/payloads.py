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
        "declaration_number": declaration_number(consignment, copy),
        "lane": "green",
        "examination": "none",
        "remarks": "2021 replay: relief consignment on the fast track",
    }


# --- inspection and the VAR (intake) --------------------------------------------------------

INSPECTOR = "2021 replay: intake officer"
ENTERED_COLD_STORE_AFTER = timedelta(hours=1)


def inspection(consignment: Consignment, shift: Shift) -> dict[str, Any]:
    """One arrival part (the consignment's flight): every lot counted as announced, nothing
    rejected. The VARs are filed on their own (``arrival_report``)."""
    landed = datetime.combine(shift(consignment.day), ARRIVED_AT, VIET_NAM)
    lots = [
        {
            "line_no": line_no,
            "lot_number": lot_number(consignment, line_no)
            if line.category == "vaccine"
            else NO_LOT,
            "counted": line.quantity,
        }
        for line_no, line in enumerate(consignment.lines, start=1)
    ]
    return {
        "flight": _compact(consignment),
        "arrived_at": landed.isoformat(),
        "entered_cold_store_at": (landed + ENTERED_COLD_STORE_AFTER).isoformat(),
        "lots": lots,
        "remarks": remarks(consignment),
    }


def arrival_report(part_no: int, line_no: int) -> dict[str, Any]:
    """The VAR of one vaccine line: documents in, boxes in good order, no alarm."""
    return {
        "part_no": part_no,
        "line_no": line_no,
        "inspected_by": INSPECTOR,
        "advance_notice": {"documents": ["airway_bill", "packing_list", "invoice"]},
        "shipping_indicators": {"coolant": "ice_packs"},
        "general_condition": {"boxes_condition": "good", "labels_correct": True},
    }


# --- the customs case -----------------------------------------------------------------------

DECLARATION_DIGITS = 12
LANES = ("green", "yellow", "red")


def declaration_number(consignment: Consignment, copy: int) -> str:
    """12 digits, the same on every run: the key's digits (21MMDDK), then the copy."""
    digits = "".join(ch for ch in consignment.key if ch.isdigit())
    width = DECLARATION_DIGITS - len(digits)
    if width < 1 or copy >= 10**width:
        raise ValueError(f"no 12-digit declaration number for {consignment.key} copy {copy}")
    return f"{digits}{copy:0{width}d}"


def declaration(consignment: Consignment, copy: int) -> dict[str, Any]:
    return {
        "declaration_number": declaration_number(consignment, copy),
        "declaration_type": "simplified",
        "exemption_basis": "Resolution 106/NQ-CP (aid for COVID-19 prevention)",
    }


def lane(consignment: Consignment) -> str:
    """The lane a CSV note names ("yellow lane"), else green."""
    notes = " ".join(consignment.notes).lower()
    return next((name for name in LANES if f"{name} lane" in notes), "green")


def fast_tracked(consignment: Consignment) -> bool:
    """Rows whose note says the consignment went on the fast track."""
    notes = " ".join(consignment.notes).lower().replace("-", " ")
    return "fast track" in notes


def examination() -> dict[str, Any]:
    return {"place": "airport", "findings": "2021 replay: seals intact, counts as declared"}


def release() -> dict[str, Any]:
    return {"everything": True, "remarks": "2021 replay: released in full"}


# --- the allocation decision -------------------------------------------------------------


def decision_number(consignment: Consignment, copy: int) -> str:
    """Like 3400/QĐ-BYT, the same on every run: D21-0224-1 is 2241/QĐ-BYT, copy 2 of it
    2241-2/QĐ-BYT."""
    _, mmdd, k = consignment.key.split("-")
    number = str(int(mmdd + k)) + ("" if copy == 1 else f"-{copy}")
    return f"{number}/QĐ-BYT"


def approval(consignment: Consignment, copy: int, today: date) -> dict[str, Any]:
    return {
        "decision_number": decision_number(consignment, copy),
        "decision_date": today.isoformat(),
    }


# --- dispatch and receipt (allocation) ------------------------------------------------------

CARRIER = "2021 replay: national EPI cold truck"


def dispatch(notice: dict[str, Any], today: date) -> dict[str, Any]:
    """The notice's lots as allocated; a supply line has none, so it leaves as one lot named
    after the notice."""
    if notice["lots"]:
        return {"carrier": CARRIER}
    lot = {
        "lot_number": supply_lot(notice),
        "expiry_date": (today + SHELF_LIFE).isoformat(),
        "quantity": notice["quantity"],
    }
    return {"carrier": CARRIER, "lots": [lot]}


def supply_lot(notice: dict[str, Any]) -> str:
    return f"{notice['notice_number']}-S"[-32:]


def receipt(notice: dict[str, Any]) -> dict[str, Any]:
    """Every dispatched unit counted and accepted."""
    lots = [
        {
            "lot_number": lot["lot_number"],
            "counted": lot["quantity"],
            "accepted": lot["quantity"],
        }
        for lot in notice["dispatched_lots"] or ()
    ]
    return {"lots": lots}
