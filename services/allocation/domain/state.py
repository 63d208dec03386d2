"""The state of one consignment's allocation: its rounds and the notices they sent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from uuid import UUID

from shared.contracts.allocation import DraftLine, RoundSource
from shared.contracts.values import Lot


class RoundStatus(StrEnum):
    DRAFTED = "drafted"
    APPROVED = "approved"


class NoticeStatus(StrEnum):
    """An allocation notice's status in a recipient's inbox. ``issued`` was called ``new``
    before: that name is still accepted, e.g. in the filter of an old client."""

    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    RECEIVED = "received"
    RECEIVED_WITH_DISCREPANCIES = "received_with_discrepancies"
    WITHDRAWN = "withdrawn"  # amended to zero before dispatch

    @classmethod
    def _missing_(cls, value: object) -> NoticeStatus | None:
        return cls.ISSUED if value == "new" else None


ORDER = {
    NoticeStatus.ISSUED: 0,
    NoticeStatus.ACKNOWLEDGED: 1,
    NoticeStatus.DISPATCHED: 2,
    NoticeStatus.RECEIVED: 3,
    NoticeStatus.RECEIVED_WITH_DISCREPANCIES: 3,
    NoticeStatus.WITHDRAWN: 3,
}


@dataclass(frozen=True)
class Notice:
    province_code: str
    line_no: int = 0
    quantity: int = 0
    lots: tuple[Lot, ...] = ()
    status: NoticeStatus = NoticeStatus.ISSUED
    dispatched_lots: tuple[Lot, ...] = ()

    @property
    def acknowledged(self) -> bool:
        return self.status is not NoticeStatus.ISSUED

    @property
    def dispatched(self) -> bool:
        """The goods have left the store: the notice can no longer be amended."""
        return self.status in (
            NoticeStatus.DISPATCHED,
            NoticeStatus.RECEIVED,
            NoticeStatus.RECEIVED_WITH_DISCREPANCIES,
        )


@dataclass(frozen=True)
class Round:
    round_id: str
    source: RoundSource
    policy_id: str
    policy_version: int
    lines: tuple[DraftLine, ...]
    release_no: int | None = None
    automatic: bool = False
    released_at: datetime | None = None
    drafted_by: str = ""
    donor: str = ""
    status: RoundStatus = RoundStatus.DRAFTED
    adjusters: frozenset[str] = frozenset()
    decision_number: str = ""
    legacy: bool = False  # decided by version 0.x: no draft, no lots per share

    @property
    def authors(self) -> frozenset[str]:
        """Who shaped the round: none of them may approve it (four-eyes)."""
        return self.adjusters | ({self.drafted_by} if self.drafted_by else frozenset())

    def line(self, line_no: int) -> DraftLine | None:
        return next((x for x in self.lines if x.line_no == line_no), None)


@dataclass(frozen=True)
class ConsignmentAllocation:
    shipment_id: UUID | None = None
    round_id: str | None = None  # the consignment's first round (fast track or release 1)
    rounds: Mapping[str, Round] = field(default_factory=lambda: MappingProxyType({}))
    notices: Mapping[str, Notice] = field(default_factory=lambda: MappingProxyType({}))
