"""Settings from environment variables (pydantic-settings).

Each service reads its own database URL from ``<SERVICE>_DATABASE_URL`` (e.g.
``INTAKE_DATABASE_URL``); everything else is common and prefixed ``AIDPORT_``,
except the broker address, ``KAFKA_BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

import os

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.limits import DEFAULT_MAX_EVENT_BYTES

DEV_JWT_SECRET = "aidport-development-secret-change-me-0123456789"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIDPORT_", extra="ignore", populate_by_name=True)

    service: str = "intake"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "AIDPORT_KAFKA_BOOTSTRAP_SERVERS"),
    )
    jwt_secret: str = DEV_JWT_SECRET
    jwt_ttl_minutes: int = 12 * 60
    demo_users: bool = Field(True, description="serve the development identity provider")
    relay_enabled: bool = True
    db_pool_size: int = 10
    log_level: str = "INFO"
    topic_prefix: str = Field("aidport", description="lets several environments share a cluster")

    # Limits at the edge: a request body is refused (413) before it is read past this size,
    # and no event over max_event_bytes is stored, so each one fits the broker's message limit.
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_event_bytes: int = Field(DEFAULT_MAX_EVENT_BYTES, ge=1024)

    @property
    def topic(self) -> str:
        return topic_of(self.service, self.topic_prefix)

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}.{self.service}"


def topic_of(service: str, prefix: str = "aidport") -> str:
    return f"{prefix}.{service}.events"


def load_settings(service: str) -> Settings:
    """Settings for one service; its database URL comes from ``<SERVICE>_DATABASE_URL``."""
    url = os.environ.get(f"{service.upper()}_DATABASE_URL")
    overrides: dict[str, object] = {"service": service}
    if url:
        overrides["database_url"] = url
    return Settings(**overrides)  # type: ignore[arg-type]


SERVICES = ("intake", "customs", "allocation")


def all_topics(prefix: str = "aidport") -> list[str]:
    """Each service's event topic and its dead-letter topic."""
    return [name for s in SERVICES for name in (topic_of(s, prefix), f"{topic_of(s, prefix)}.dlq")]
