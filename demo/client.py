"""The public HTTP APIs as the replay uses them: sign-in per service and user, a bound on
requests in flight, and retries of what a busy or restarting service answers (503, 429,
a refused connection), honouring Retry-After."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
ATTEMPTS = 8
MAX_WAIT = 30.0  # seconds, whatever Retry-After says


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response, what: str) -> None:
        super().__init__(
            f"{what}: {response.request.method} {response.request.url} answered "
            f"{response.status_code} {response.text[:500]}"
        )
        self.status_code = response.status_code


@dataclass
class Api:
    urls: Mapping[str, str]  # service name -> base URL
    password: str
    client: httpx.AsyncClient
    concurrency: int = 4
    requests: int = 0
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    _locks: dict[tuple[str, str], asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)

    async def call(
        self,
        service: str,
        user: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        """One request as ``user``; ``key`` is sent as the Idempotency-Key."""
        headers = {"Idempotency-Key": key} if key else {}
        for renewed in (False, True):
            headers["Authorization"] = f"Bearer {await self.token(service, user)}"
            response = await self.send(
                method, f"{self.urls[service]}{path}", json=json, params=params, headers=headers
            )
            if response.status_code != 401 or renewed:
                return response
            self._tokens.pop((service, user), None)  # expired or revoked: sign in again
        raise AssertionError("unreachable")

    async def token(self, service: str, user: str) -> str:
        """Each service accepts only the tokens it issued: one sign-in per service and user."""
        key = (service, user)
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._tokens:
                response = await self.send(
                    "POST",
                    f"{self.urls[service]}/api/v1/auth/token",
                    data={"username": user, "password": self.password},
                )
                if response.status_code != 200:
                    raise ApiError(response, f"sign-in of {user} at {service}")
                self._tokens[key] = response.json()["access_token"]
        return self._tokens[key]

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self._slots:
                    self.requests += 1
                    response = await self.client.request(method, url, **kwargs)
            except httpx.TransportError:
                if attempt == ATTEMPTS:
                    raise
                await asyncio.sleep(backoff(attempt))
                continue
            if not retried(response) or attempt == ATTEMPTS:
                return response
            await asyncio.sleep(retry_after(response.headers.get("Retry-After"), attempt))
        raise AssertionError("unreachable")


def retried(response: httpx.Response) -> bool:
    """Busy, restarting, or a concurrent write to the same stream (nothing was written: the
    same request, with its Idempotency-Key, is safe to send again)."""
    if response.status_code == 409:
        return response.headers.get("content-type", "").startswith(
            "application/problem+json"
        ) and str(response.json().get("type", "")).endswith("/concurrency")
    return response.status_code in RETRIED_STATUSES


def backoff(attempt: int) -> float:
    return float(min(MAX_WAIT, 0.25 * 2**attempt))


def retry_after(header: str | None, attempt: int, now: float | None = None) -> float:
    """Seconds to wait: Retry-After as seconds or as an HTTP date, else exponential backoff."""
    if header:
        header = header.strip()
        if header.isdigit():
            return min(MAX_WAIT, float(header))
        try:
            moment = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return backoff(attempt)
        return min(MAX_WAIT, max(0.0, moment.timestamp() - (now or time.time())))
    return backoff(attempt)
