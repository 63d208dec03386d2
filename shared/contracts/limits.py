"""The bounds of every command and event, stated once and used by the API models and contracts.

They are chosen so that the largest command that is accepted yields events far below the
broker's message limit (Kafka's ``message.max.bytes``, about 1 MiB by default): the largest
consignment (50 lines, 500 lots, every text at its longest and outside ASCII, so escaped in
JSON) makes events of at most about 240 kB; the event store refuses anything over
``AIDPORT_MAX_EVENT_BYTES`` (512 KiB by default) so the limit holds by contract, not by luck.
A test builds that largest consignment and measures its events.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

DEFAULT_MAX_EVENT_BYTES = 512 * 1024
"""The largest event the event store keeps (``AIDPORT_MAX_EVENT_BYTES``): half the broker's
``message.max.bytes``, so that every stored event can also be published."""

MAX_QUANTITY = 10**9
"""Units in one line, lot or share. Fifty lines of 10^9 still sum far below int64."""
MAX_PACK_SIZE = 1_000_000
MAX_LINES = 50
"""Product lines in one consignment."""
MAX_LOTS_PER_LINE = 100
MAX_LOTS = 500
"""Lots in one consignment, all lines together."""
MAX_RECEIVED = MAX_LOTS + MAX_LINES
"""Received entries in one arrival: one per lot, plus one per line announced without lots."""

NAME_LENGTH = 200
"""Donor, consignee, product: free names, any script."""
CODE_LENGTH = 32
"""Lot number, airway bill, flight, declaration number: printable ASCII."""
REMARKS_LENGTH = 2000

# U+0000..U+001F and U+007F. PostgreSQL's jsonb refuses U+0000, and none belongs in a record.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_NEWLINE_TAB = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
CODE_PATTERN = r"^[\x20-\x7e]*$"


def _refuse(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        found = pattern.search(value)
        if found:
            raise ValueError(f"must not contain {what} (found U+{ord(found.group()):04X})")
        return value

    return AfterValidator(check)


Text = Annotated[
    str,
    _refuse(_CONTROL, "control characters"),
    Field(json_schema_extra={"pattern": TEXT_PATTERN}),
]
"""One line of text: no control characters (U+0000..U+001F, U+007F)."""

FreeText = Annotated[
    str,
    _refuse(_CONTROL_EXCEPT_NEWLINE_TAB, "control characters other than newline and tab"),
    Field(json_schema_extra={"pattern": FREE_TEXT_PATTERN}),
]
"""Remarks: several lines allowed (newline and tab), no other control character."""

Code = Annotated[
    str,
    _refuse(_NOT_PRINTABLE_ASCII, "characters outside printable ASCII"),
    Field(json_schema_extra={"pattern": CODE_PATTERN}),
]
"""An identifier written on paper and read out on the phone: printable ASCII only."""

Quantity = Annotated[
    int, Field(ge=0, le=MAX_QUANTITY, description=f"units, at most {MAX_QUANTITY:,}")
]
PackSize = Annotated[
    int, Field(ge=1, le=MAX_PACK_SIZE, description="units per pack (e.g. doses per vial x vials)")
]
