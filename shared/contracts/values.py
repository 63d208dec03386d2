"""Value objects carried inside events of more than one service."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


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
    lot_number: str
    expiry_date: date
    quantity: int = Field(ge=0)


class LineItem(Frozen):
    """One product line of a consignment, in units (doses, pieces, ...)."""

    line_no: int = Field(ge=1)
    product: str
    category: Category
    unit: Unit
    pack_size: int = Field(
        ge=1, description="units per pack (e.g. doses per vial x vials per carton)"
    )
    quantity: int = Field(ge=0)
    storage: Storage
    lots: tuple[Lot, ...] = ()


class ReceivedLot(Frozen):
    line_no: int = Field(ge=1)
    lot_number: str
    quantity: int = Field(ge=0)
