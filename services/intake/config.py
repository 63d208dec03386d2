"""Intake's own settings: the shelf-life gate's minimum per category, in days.

``AIDPORT_INTAKE_MIN_SHELF_LIFE_DAYS_<CATEGORY>``, e.g. ``..._VACCINE=70`` (10 weeks),
``..._DRUG=365`` and ``..._MEDICAL_SUPPLY=365`` (12 months), ``..._EQUIPMENT=0`` (no gate).
"""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.intake.domain import ShelfLifePolicy
from shared.contracts.values import Category

TEN_YEARS = 3653


class ShelfLifeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AIDPORT_INTAKE_MIN_SHELF_LIFE_DAYS_", extra="ignore"
    )

    vaccine: int = Field(70, ge=0, le=TEN_YEARS)
    drug: int = Field(365, ge=0, le=TEN_YEARS)
    medical_supply: int = Field(365, ge=0, le=TEN_YEARS)
    equipment: int = Field(0, ge=0, le=TEN_YEARS)

    def policy(self) -> ShelfLifePolicy:
        return ShelfLifePolicy({c: getattr(self, c.value) for c in Category})


@cache
def shelf_life_policy() -> ShelfLifePolicy:
    """Read once per process: the limits do not change while the service runs."""
    return ShelfLifeSettings().policy()
