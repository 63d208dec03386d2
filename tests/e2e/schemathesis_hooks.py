"""schemathesis hooks (``SCHEMATHESIS_HOOKS``): make half of the generated announcements
pass the domain's rules, so that their texts, which stay as generated, reach the event
store and the consumers instead of being refused for an implausible date.

Only what a schema cannot state is repaired: a known airport, a date near now, lots that
add up to their line, unique lot numbers. Donor, consignee, flight, airway bill, product
and lot numbers keep whatever the generator made of them.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

import schemathesis

ANNOUNCE = "/api/v1/shipments"


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    operation = context.operation
    if operation is None or operation.method.upper() != "POST" or operation.path != ANNOUNCE:
        return body
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list):
        return body
    if zlib.crc32(repr(body.get("donor")).encode()) % 2:
        return body  # the other half stays as generated
    try:
        return _plausible(body)
    except (TypeError, AttributeError, ValueError, KeyError):  # a negative case: leave it
        return body


def _plausible(body: dict[str, Any]) -> dict[str, Any]:
    expiry = (date.today() + timedelta(days=200)).isoformat()
    lines = []
    for line in body["lines"]:
        lots = [
            lot | {"lot_number": f"{n}{lot['lot_number']}", "expiry_date": expiry, "quantity": 1}
            for n, lot in enumerate(line.get("lots", []))
        ]
        quantity = len(lots) or max(int(line.get("quantity", 1)), 1)
        category = line.get("category", "vaccine") if lots else "medical_supply"
        lines.append(line | {"lots": lots, "quantity": quantity, "category": category})
    arrival = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    return body | {"airport": "HAN", "expected_arrival": arrival, "lines": lines}
