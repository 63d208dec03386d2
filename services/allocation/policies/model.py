"""An allocation policy as data: what the Ministry's decision rules say, version by version.

Each file ``policies/<id>.v<version>.json`` is one immutable version, validated here at
start. Quantities are in the line's units (doses, pieces); percentages in basis points
would be exact too, but the Ministry writes percents, so a percent is a ``Decimal``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.allocation.policies.apportion import Method
from shared.contracts.allocation import RoundSource
from shared.contracts.limits import MAX_QUANTITY
from shared.contracts.values import Priority

RecipientCode = str


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PackagingLevel(StrEnum):
    SHIPPER_CARTON = "shipper_carton"
    INNER_PACK = "inner_pack"  # the line's pack: a vial, a box


class CartonFallback(StrEnum):
    """When a carton is larger than a recipient's share."""

    INNER_PACK = "inner_pack"  # share what no whole carton holds in inner packs
    LEAVE_OUT = "leave_out"  # that recipient gets nothing, said so in the draft


def _matches(needle: str, haystack: str) -> bool:
    return needle.casefold() in haystack.casefold()


class Match(_Frozen):
    """Which consignments a policy is chosen for (every condition must hold)."""

    donor_contains: str = ""
    product_contains: str = ""
    sources: tuple[RoundSource, ...] = (RoundSource.RELEASE,)

    def fits(self, donor: str, products: tuple[str, ...], source: RoundSource) -> bool:
        return (
            source in self.sources
            and _matches(self.donor_contains, donor)
            and any(_matches(self.product_contains, p) for p in products)
        )


class Quota(_Frozen):
    """A fixed amount or percentage for one recipient, taken before anyone shares."""

    recipient: RecipientCode = Field(max_length=16)
    product_contains: str = ""
    amount: int | None = Field(None, ge=1, le=MAX_QUANTITY)
    percent: Decimal | None = Field(None, gt=0, le=100)
    reason: str = ""

    @model_validator(mode="after")
    def _one_of(self) -> Quota:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("a quota is either an amount or a percent")
        return self

    def wanted(self, released: int) -> int:
        if self.amount is not None:
            return self.amount
        assert self.percent is not None
        return int(released * self.percent / 100)


class Earmark(_Frozen):
    """The donor's condition: matching goods go only to these recipients."""

    donor_contains: str
    product_contains: str = ""
    recipients: tuple[RecipientCode, ...] = Field(min_length=1)
    reason: str = ""


class Packaging(_Frozen):
    level: PackagingLevel = PackagingLevel.INNER_PACK
    packs_per_carton: int | None = Field(None, ge=1, le=100_000)
    fallback: CartonFallback = CartonFallback.INNER_PACK

    @model_validator(mode="after")
    def _carton_size(self) -> Packaging:
        if (self.level is PackagingLevel.SHIPPER_CARTON) != (self.packs_per_carton is not None):
            raise ValueError("packs_per_carton is given exactly when the level is shipper_carton")
        return self


class Policy(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9-]{1,64}$")
    version: int = Field(ge=1)
    title: str
    summary: str = ""
    applies_to: Match | None = Field(None, description="None: chosen only as the default")
    method: Method = Method.HAMILTON
    automatic_approval: bool = False
    automatic_approval_priorities: tuple[Priority, ...] = Field(
        (), description="consignments of these priorities are approved automatically"
    )
    quotas: tuple[Quota, ...] = ()
    earmarks: tuple[Earmark, ...] = ()
    share_among: tuple[RecipientCode, ...] = Field(
        (), description="who shares what quotas leave; empty: the 34 provinces"
    )
    priority_weights: dict[RecipientCode, int] = Field(
        default_factory=dict, description="percent of the population weight; 100 if not named"
    )
    targets: dict[RecipientCode, int] = Field(
        default_factory=dict, description="target units: the cap is target less received"
    )
    ultra_cold_needs_capacity: bool = True
    minimum_shipment: int = Field(0, ge=0, le=MAX_QUANTITY)
    use_by: date | None = None
    use_within_days: int | None = Field(None, ge=1, le=3650)
    packaging: Packaging = Packaging()
    reserve_holder: RecipientCode = "NEPI"

    @property
    def label(self) -> str:
        return f"{self.id} v{self.version}"

    def quotas_for(self, product: str) -> tuple[Quota, ...]:
        return tuple(q for q in self.quotas if _matches(q.product_contains, product))

    def earmark_for(self, donor: str, product: str) -> Earmark | None:
        return next(
            (
                e
                for e in self.earmarks
                if _matches(e.donor_contains, donor) and _matches(e.product_contains, product)
            ),
            None,
        )

    def priority(self, code: str) -> int:
        return self.priority_weights.get(code, 100)
