"""Value objects carried inside events of more than one service."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.limits import (
    CODE_LENGTH,
    MAX_LINES,
    MAX_LOTS_PER_LINE,
    MAX_QUANTITY,
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


class Priority(StrEnum):
    """How urgent a consignment is, as its announcement says; a policy may approve the
    rounds of some priorities automatically (emergency mode)."""

    ROUTINE = "routine"
    URGENT = "urgent"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        """Higher is more urgent: queues sort by it, emergencies first."""
        return _PRIORITY_RANKS[self]


_PRIORITY_RANKS = {priority: rank for rank, priority in enumerate(Priority)}


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


class RejectionReason(StrEnum):
    """Why units counted at arrival (or at a province) are not accepted: the fixed list."""

    DAMAGED = "damaged"
    TEMPERATURE_EXCURSION = "temperature_excursion"
    VVM_DISCARD_POINT = "vvm_discard_point"  # VVM stage 3 or 4
    EXPIRED = "expired"
    SHORT_SHELF_LIFE_REFUSED = "short_shelf_life_refused"
    NOT_AS_DESCRIBED = "not_as_described"
    SHORT = "short"  # at a province: dispatched but not delivered


class Rejection(Frozen):
    reason: RejectionReason
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    note: Text = Field("", max_length=NAME_LENGTH)


class CountedLot(Frozen):
    """One lot as counted on receipt, in units: counted = accepted + the rejections.

    Used at the airport (intake's inspection) and at a province (proof of delivery)."""

    line_no: int = Field(ge=1, le=MAX_LINES)
    lot_number: Code = Field(max_length=CODE_LENGTH)
    expiry_date: date | None = None
    counted: Quantity
    accepted: Quantity
    rejections: tuple[Rejection, ...] = Field((), max_length=len(RejectionReason))
    short_shelf_life: bool = Field(False, description="flagged by the shelf-life gate")
    acceptance_reason: Text = Field(
        "",
        max_length=NAME_LENGTH,
        description="why a supervisor accepted a lot flagged short shelf life",
    )

    @model_validator(mode="after")
    def _adds_up(self) -> CountedLot:
        rejected = sum(r.quantity for r in self.rejections)
        if self.accepted + rejected != self.counted:
            raise ValueError(
                f"lot {self.lot_number!r}: accepted {self.accepted} + rejected {rejected}"
                f" must equal counted {self.counted}"
            )
        return self


class DiscrepancyKind(StrEnum):
    """What differs from the manifest. Recorded, never refused: the goods are there."""

    SHORT_SHIPMENT = "short_shipment"
    OVER_RECEIPT = "over_receipt"
    NOT_ON_MANIFEST = "not_on_manifest"


class Discrepancy(Frozen):
    kind: DiscrepancyKind
    line_no: int = Field(ge=1, le=MAX_LINES)
    lot_number: Code = Field("", max_length=CODE_LENGTH)
    quantity: Quantity = Field(description="units short, over, or found off the manifest")
    reason: Text = Field(max_length=NAME_LENGTH)
