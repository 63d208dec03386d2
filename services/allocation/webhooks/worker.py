"""Sends the outbox: claims due deliveries, signs and POSTs them, logs every attempt.

At least once: a claim is a lease (``next_attempt_at`` moved ahead) committed before the
POST, so a crash mid-delivery leaves the delivery due again when the lease lapses, and it
goes out again with the same ``webhook-id`` (the event's id). A 2xx ends it; anything else
(a 3xx included: redirects are not followed) is retried with exponential backoff and
jitter until ``give_up_at`` (three days), then marked failed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from cryptography.fernet import InvalidToken
from prometheus_client import Counter

from services.allocation.webhooks import signing, targets
from services.allocation.webhooks.settings import WebhookSettings
from shared.decider import InvalidInput
from shared.runtime import Runtime
from shared.views import decoded

log = logging.getLogger(__name__)
ATTEMPTS = Counter(
    "aidport_webhook_attempts_total", "Webhook delivery attempts, by outcome", ["outcome"]
)
USER_AGENT = "AidPort-Webhooks/1"

CLAIM = """
    WITH due AS (
        SELECT delivery_id FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
    UPDATE webhook_deliveries d
    SET next_attempt_at = now() + make_interval(secs => $2), attempts = d.attempts + 1
    FROM due, webhook_endpoints w, events e
    WHERE d.delivery_id = due.delivery_id AND w.endpoint_id = d.endpoint_id
      AND e.position = d.position
    RETURNING d.delivery_id, d.endpoint_id, d.event_id, d.attempts, d.give_up_at, w.url,
        w.secret, e.event_type, e.data, e.recorded_at"""

RECORD_ATTEMPT = """
    INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt, attempted_at, duration_ms,
        status_code, error, next_attempt_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"""

DELIVERED = """
    UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $2, last_status = $3,
        last_error = NULL
    WHERE delivery_id = $1 AND status = 'pending'"""

FAILED_ATTEMPT = """
    UPDATE webhook_deliveries SET last_status = $2, last_error = $3,
        status = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE status END,
        next_attempt_at = coalesce($4, next_attempt_at)
    WHERE delivery_id = $1 AND status = 'pending'"""


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff(attempt: int, settings: WebhookSettings, rng: random.Random) -> float:
    """Exponential, capped, with jitter: between half and all of base * 2^(attempt-1)."""
    delay = min(settings.retry_cap_seconds, settings.retry_base_seconds * 2.0 ** (attempt - 1))
    return float(delay * (0.5 + rng.random() / 2))


def body_of(event_type: str, data: Any, recorded_at: datetime) -> str:
    """The payload: the event's type, time and data (the same bytes on every attempt)."""
    payload = {"type": event_type, "timestamp": recorded_at.isoformat(), "data": decoded(data)}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class WebhookWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: WebhookSettings,
        box: signing.SecretBox,
        development: bool,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.box = box
        self.development = development
        self.rng = random.Random()

    async def run(self) -> None:
        timeout = httpx.Timeout(
            self.settings.timeout_seconds, connect=self.settings.connect_timeout_seconds
        )
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False
        ) as client:
            while True:
                try:
                    sent = await self.once(client)
                except Exception as error:  # the database away, a pool closing: try again
                    log.warning("webhook worker: %r", error)
                    sent = 0
                if not sent:
                    await asyncio.sleep(self.settings.poll_seconds)

    async def once(self, client: httpx.AsyncClient) -> int:
        """Claim a batch of due deliveries and send them; returns how many."""
        async with self.pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetch(CLAIM, self.settings.batch, self.settings.lease_seconds)
        await asyncio.gather(*(self._deliver(client, row) for row in claimed))
        return len(claimed)

    async def _deliver(self, client: httpx.AsyncClient, row: asyncpg.Record) -> None:
        started, clock = datetime.now(UTC), time.monotonic()
        outcome = await self._post(client, row, started)
        duration_ms = int((time.monotonic() - clock) * 1000)
        ATTEMPTS.labels("delivered" if outcome.ok else "failed").inc()
        next_at: datetime | None = None
        if not outcome.ok:
            delay = backoff(row["attempts"], self.settings, self.rng)
            candidate = datetime.now(UTC) + timedelta(seconds=delay)
            next_at = candidate if candidate < row["give_up_at"] else None
        async with self.pool.acquire() as conn, conn.transaction():
            args = (row["delivery_id"], row["endpoint_id"], row["attempts"], started, duration_ms)
            await conn.execute(RECORD_ATTEMPT, *args, outcome.status_code, outcome.error, next_at)
            if outcome.ok:
                await conn.execute(
                    DELIVERED, row["delivery_id"], datetime.now(UTC), outcome.status_code
                )
            else:
                await conn.execute(
                    FAILED_ATTEMPT, row["delivery_id"], outcome.status_code, outcome.error, next_at
                )

    async def _post(self, client: httpx.AsyncClient, row: asyncpg.Record, now: datetime) -> Outcome:
        try:
            target = targets.parse(row["url"], self.development)
            address = await targets.resolve(
                target, self.development, self.settings.connect_timeout_seconds
            )
        except (targets.Unsafe, InvalidInput) as error:  # e.g. the name now points inside
            return Outcome(None, f"refused: {error}"[:500])
        body = body_of(row["event_type"], row["data"], row["recorded_at"])
        try:
            secret = self.box.open(row["secret"])
        except InvalidToken:
            return Outcome(None, "the secret cannot be opened: was the secret key changed?")
        headers = signing.headers(secret, str(row["event_id"]), now, body)
        default_port = 443 if target.scheme == "https" else 80
        host = target.host if target.port == default_port else f"{target.host}:{target.port}"
        headers |= {"host": host, "content-type": "application/json", "user-agent": USER_AGENT}
        url = f"{target.scheme}://{address}:{target.port}{target.path}"
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            async with asyncio.timeout(self.settings.timeout_seconds * 2):
                return await self._exchange(client, url, headers, body, extensions)
        except (httpx.HTTPError, TimeoutError, OSError) as error:
            return Outcome(None, f"{type(error).__name__}: {error}"[:500])

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: dict[str, str],
        body: str,
        extensions: dict[str, Any],
    ) -> Outcome:
        """POST and read at most ``max_response_bytes`` of the answer (then stop reading)."""
        request = client.build_request(
            "POST", url, content=body.encode(), headers=headers, extensions=extensions
        )
        response = await client.send(request, stream=True)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= self.settings.max_response_bytes:
                    break
        finally:
            await response.aclose()
        return Outcome(response.status_code, None)


async def run(runtime: Runtime) -> None:
    """The service's background task: on the background pool, like the consumer."""
    settings = WebhookSettings()
    box = signing.SecretBox(settings.secret_key or runtime.settings.jwt_secret)
    pool = runtime.background_pool or runtime.pool
    await WebhookWorker(pool, settings, box, runtime.settings.development).run()
