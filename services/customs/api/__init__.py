"""Customs HTTP API: the clearance queue, a case and its history, and the officers' steps:
declaration, documents, permits, lane, examination, holds, release (normal or partial),
refusal, and the fast-track release."""

from __future__ import annotations

from fastapi import APIRouter

from services.customs.api import reads, steps
from services.customs.api.bodies import ClearancePublic

router = APIRouter()
router.include_router(reads.router)
router.include_router(steps.router)

__all__ = ["ClearancePublic", "router"]
