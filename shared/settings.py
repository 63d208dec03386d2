"""Settings from environment variables (pydantic-settings).

Each service reads its own database URL from ``<SERVICE>_DATABASE_URL`` (e.g.
``INTAKE_DATABASE_URL``); everything else is common and prefixed ``AIDPORT_``,
except the broker address, ``KAFKA_BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

import os
import socket
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.limits import DEFAULT_MAX_EVENT_BYTES

DEV_JWT_SECRET = "aidport-development-secret-change-me-0123456789"
MIN_SECRET_BYTES = 32


class UnsafeSettings(RuntimeError):
    """Settings that must not run outside development; the message is one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIDPORT_", extra="ignore", populate_by_name=True)

    service: str = "intake"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "AIDPORT_KAFKA_BOOTSTRAP_SERVERS"),
    )
    # -- security: identity, sessions, operations endpoints --------------------------
    env: Literal["development", "production"] = "production"
    jwt_secret: str = DEV_JWT_SECRET
    jwt_ttl_minutes: int = 12 * 60
    demo_users: bool = Field(False, description="serve the development identity provider")
    oidc_issuer: str = Field("", description="an external OpenID Connect issuer (e.g. Keycloak)")
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_role_claim: str = "role"
    oidc_scope_claim: str = "scope"
    login_window_seconds: int = Field(300, ge=1)
    login_failures_per_user: int = Field(5, ge=1)
    login_failures_per_client: int = Field(20, ge=1)
    metrics_port: int | None = Field(None, description="serve /metrics on its own port too")
    metrics_host: str = "127.0.0.1"
    public_metrics: bool = False
    public_docs: bool | None = Field(None, description="default: public in development only")
    relay_enabled: bool = True
    db_pool_size: int = 10
    db_statement_timeout_seconds: float = Field(
        30.0, ge=0, description="the API's statements are cancelled after this long (0: never)"
    )
    background: Literal["inline", "pool"] = Field(
        "pool", description="pool: the consumer has its own connections, apart from the API's"
    )
    background_pool_size: int = Field(4, ge=2)
    processed_retention_hours: float = Field(
        7 * 24.0, gt=0, description="how long handled event ids are kept against duplicates"
    )
    idempotency_retention_hours: float = Field(
        7 * 24.0, gt=0, description="how long a command's Idempotency-Key and answer are kept"
    )
    resolved_retention_days: float = Field(
        90.0, gt=0, description="how long resolved dead letters and quarantined events are kept"
    )
    log_level: str = "INFO"
    topic_prefix: str = Field("aidport", description="lets several environments share a cluster")

    # Limits at the edge: a request body is refused (413) before it is read past this size,
    # and no event over max_event_bytes is stored, so each one fits the broker's message limit.
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_event_bytes: int = Field(DEFAULT_MAX_EVENT_BYTES, ge=1024)
    max_live_readers: int = Field(200, ge=1, description="live feeds (SSE) one replica serves")

    # The pipeline (issue 7): dead letters, relay quarantine, truthful health, fast rejoin.
    instance_id: str = Field(
        "", description="stable id of this replica in its consumer group (static membership)"
    )
    consumer_max_message_bytes: int = Field(
        1024 * 1024, description="a larger consumed message is a dead letter"
    )
    consumer_session_timeout_ms: int = 10_000
    consumer_heartbeat_interval_ms: int = 1_000
    relay_stuck_seconds: float = Field(
        60.0, description="readiness fails when the oldest unpublished event is older"
    )
    consumer_stuck_seconds: float = Field(
        120.0, gt=0, description="readiness fails when one batch takes the consumer longer"
    )
    reporting_max_replay: int = Field(
        200_000, ge=1, description="events an as_of question may replay at most (reporting)"
    )

    @property
    def group_instance_id(self) -> str:
        """This replica's member id: AIDPORT_INSTANCE_ID, else service, host and port."""
        if self.instance_id:
            return self.instance_id
        port = os.environ.get(f"{self.service.upper()}_PORT") or os.environ.get("AIDPORT_PORT")
        return f"{self.service}-{socket.gethostname()}-{port or 0}"

    @property
    def development(self) -> bool:
        return self.env == "development"

    @property
    def docs_are_public(self) -> bool:
        return self.development if self.public_docs is None else self.public_docs

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    def unsafe_reasons(self) -> list[str]:
        """Why these settings must not run outside development (empty: they may)."""
        reasons = []
        if self.oidc_enabled and not (self.oidc_audience and self.oidc_jwks_url):
            reasons.append("AIDPORT_OIDC_ISSUER needs AIDPORT_OIDC_AUDIENCE and _JWKS_URL")
        if self.development:
            return reasons
        if self.jwt_secret == DEV_JWT_SECRET:
            reasons.append("AIDPORT_JWT_SECRET is the development secret")
        elif len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            reasons.append(f"AIDPORT_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes")
        if self.demo_users:
            reasons.append("the demo identity provider is on (AIDPORT_DEMO_USERS)")
        return reasons

    def require_safe(self) -> None:
        """Refuses settings that are only for development (see ``unsafe_reasons``)."""
        reasons = self.unsafe_reasons()
        if reasons:
            raise UnsafeSettings(
                f"refusing to start {self.service} with AIDPORT_ENV={self.env}: "
                + "; ".join(reasons)
                + " (set AIDPORT_ENV=development only on a developer's machine)"
            )

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
"""The services that record and publish events (each has a topic)."""
READ_SERVICES = ("reporting",)
"""Services that only consume: no event store in use, no relay, no topic of their own."""
ALL_SERVICES = (*SERVICES, *READ_SERVICES)


def all_topics(prefix: str = "aidport") -> list[str]:
    """Each service's event topic and its dead-letter topic."""
    return [name for s in SERVICES for name in (topic_of(s, prefix), f"{topic_of(s, prefix)}.dlq")]
