"""Domain objects for the unit tests, with sensible defaults."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.contracts.customs import ClearedFastTrack, Examination, GoodsReleased, Lane
from shared.contracts.values import Category, Channel, LineItem, Lot, ReceivedLot, Storage, Unit

NOW = datetime(2021, 8, 25, 7, 20, tzinfo=UTC)
SHIPMENT = uuid.UUID("00000000-0000-4000-8000-000000000001")


def lot(number: str = "ABV5300", quantity: int = 500, days: int = 180) -> Lot:
    return Lot(lot_number=number, expiry_date=NOW.date() + timedelta(days=days), quantity=quantity)


def line(
    line_no: int = 1, quantity: int = 1000, lots: tuple[Lot, ...] | None = None, **changes: Any
) -> LineItem:
    fields: dict[str, Any] = {
        "line_no": line_no,
        "product": "Vaxzevria (AstraZeneca)",
        "category": Category.VACCINE,
        "unit": Unit.DOSES,
        "pack_size": 10,
        "quantity": quantity,
        "storage": Storage.COLD_2_8,
        "lots": lots
        if lots is not None
        else (lot("A1", quantity // 2), lot("A2", quantity - quantity // 2)),
    }
    return LineItem(**(fields | changes))


def received(*entries: tuple[int, str, int]) -> tuple[ReceivedLot, ...]:
    return tuple(ReceivedLot(line_no=n, lot_number=lot_no, quantity=q) for n, lot_no, q in entries)


def cleared(
    lines: tuple[LineItem, ...] = (), shipment_id: uuid.UUID = SHIPMENT
) -> ClearedFastTrack:
    return ClearedFastTrack(
        shipment_id=shipment_id,
        airport="HAN",
        donor="COVAX",
        declaration_number="104000000001",
        lane=Lane.GREEN,
        examination=Examination.NONE,
        cleared_at=NOW,
        lines=lines or (line(),),
    )


CHANNEL = Channel.COVAX
EXPIRED = date(2020, 1, 1)


def released(
    lines: tuple[LineItem, ...] = (),
    shipment_id: uuid.UUID = SHIPMENT,
    release_no: int = 1,
    donor: str = "COVAX",
) -> GoodsReleased:
    return GoodsReleased(
        shipment_id=shipment_id,
        release_no=release_no,
        airport="HAN",
        donor=donor,
        declaration_number="104000000001",
        lane=Lane.GREEN,
        partial=False,
        released_by="customs.han",
        released_at=NOW,
        lines=lines or (line(),),
    )
