"""Webhook delivery settings (``AIDPORT_WEBHOOK_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIDPORT_WEBHOOK_", extra="ignore")

    secret_key: str = Field("", description="encrypts endpoint secrets; default: the JWT secret")
    retry_base_seconds: float = Field(10.0, gt=0, description="first retry delay")
    retry_cap_seconds: float = Field(6 * 3600.0, gt=0, description="longest retry delay")
    give_up_seconds: float = Field(3 * 24 * 3600.0, gt=0, description="then marked failed")
    poll_seconds: float = Field(1.0, gt=0)
    batch: int = Field(16, ge=1, le=200, description="deliveries claimed at once")
    lease_seconds: float = Field(120.0, gt=0, description="a claim lapses after it (a crash)")
    connect_timeout_seconds: float = Field(5.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)
    max_response_bytes: int = Field(64 * 1024, ge=0)
    log_retention_days: float = Field(30.0, gt=0, description="the delivery log, once ended")
