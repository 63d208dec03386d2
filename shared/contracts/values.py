"""Value objects carried inside events of more than one service."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.limits import (
    CODE_LENGTH,
    MAX_LINES,
    MAX_LOTS_PER_LINE,
    NAME_LENGTH,
    Code,
    PackSize,
    Quantity,
    Text,
)


class Channel(StrEnum):
    COVAX = "covax"
    BILATERAL_DONATION = "bilateral_donation"
    PURCHASE = "purchase"
    PRIVATE_DONATION = "private_donation"


class Category(StrEnum):
    VACCINE = "vaccine"
    MEDICAL_SUPPLY = "medical_supply"
    EQUIPMENT = "equipment"
    DRUG = "drug"


class Unit(StrEnum):
    DOSES = "doses"
    PIECES = "pieces"
    KITS = "kits"
    TONNES = "tonnes"


class Storage(StrEnum):
    COLD_2_8 = "2-8C"
    FROZEN_25_15 = "-25to-15C"
    ULTRA_COLD_90_60 = "-90to-60C"
    AMBIENT = "ambient"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Lot(Frozen):
    lot_number: Code = Field(max_length=CODE_LENGTH)
    expiry_date: date
    quantity: Quantity


class LineItem(Frozen):
    """One product line of a consignment, in units (doses, pieces, ...)."""

    line_no: int = Field(ge=1, le=MAX_LINES)
    product: Text = Field(max_length=NAME_LENGTH)
    category: Category
    unit: Unit
    pack_size: PackSize
    quantity: Quantity
    storage: Storage
    lots: tuple[Lot, ...] = Field((), max_length=MAX_LOTS_PER_LINE)


class ReceivedLot(Frozen):
    line_no: int = Field(ge=1, le=MAX_LINES)
    lot_number: Code = Field(max_length=CODE_LENGTH)
    quantity: Quantity
