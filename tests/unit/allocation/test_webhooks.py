"""Webhook pieces without I/O: signatures the library verifies, secrets sealed at rest,
the retry schedule, and which URLs and addresses a delivery may go to."""

from __future__ import annotations

import asyncio
import ipaddress
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.allocation.webhooks import signing, targets
from services.allocation.webhooks.settings import WebhookSettings
from services.allocation.webhooks.worker import backoff, body_of
from shared.decider import InvalidInput


@given(body=st.text(max_size=200), webhook_id=st.from_regex(r"[a-z0-9-]{1,40}", fullmatch=True))
def test_the_library_verifies_what_we_sign(body: str, webhook_id: str) -> None:
    secret = signing.new_secret()
    headers = signing.headers(secret, webhook_id, datetime.now(UTC), body)
    Webhook(secret).verify(body, headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + "x", headers, json_parse=False)


def test_secrets_are_sealed_and_opened_with_the_same_key_only() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    sealed = signing.SecretBox("key one").seal(secret)
    assert secret.encode() not in sealed
    assert signing.SecretBox("key one").open(sealed) == secret
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidToken)
        signing.SecretBox("key two").open(sealed)


def test_the_payload_is_the_same_bytes_on_every_attempt() -> None:
    at = datetime(2021, 8, 25, tzinfo=UTC)
    data = {"b": 1, "a": "Hà Nội"}
    assert body_of("T", data, at) == body_of("T", '{"a": "Hà Nội", "b": 1}', at)


@given(attempt=st.integers(1, 40), seed=st.integers())
def test_the_backoff_grows_within_its_cap(attempt: int, seed: int) -> None:
    settings = WebhookSettings(retry_base_seconds=10, retry_cap_seconds=3600)
    rng = random.Random(seed)
    delay = backoff(attempt, settings, rng)
    full = min(3600.0, 10 * 2.0 ** (attempt - 1))
    assert full / 2 <= delay <= full
    following = min(3600.0, 2 * full)  # the next attempt never waits less than half of it
    assert following / 2 <= backoff(attempt + 1, settings, rng) <= following


@pytest.mark.parametrize(
    ("url", "development", "code"),
    [
        ("http://example.org/hook", True, "https-required"),
        ("http://127.0.0.1:9000/hook", False, "https-required"),
        ("ftp://example.org/hook", False, "bad-url"),
        ("https://user:pw@example.org/hook", False, "bad-url"),
        ("https://10.0.0.7/hook", False, "address-not-allowed"),
        ("https://169.254.169.254/latest", False, "address-not-allowed"),
        ("https://[::1]/hook", False, "address-not-allowed"),
        ("https://127.0.0.1/hook", False, "address-not-allowed"),
    ],
)
def test_urls_that_are_refused(url: str, development: bool, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        targets.parse(url, development)
    assert refused.value.code == code


def test_urls_that_are_accepted() -> None:
    assert targets.parse("https://soyte.example.org/h?x=1", False).path == "/h?x=1"
    assert targets.parse("http://127.0.0.1:9000/hook", True).port == 9000
    assert targets.parse("http://localhost/hook", True).host == "localhost"


def test_a_name_resolving_to_loopback_is_refused_outside_development() -> None:
    target = targets.parse("https://localhost/hook", development=False)
    with pytest.raises(targets.Unsafe):
        asyncio.run(targets.resolve(target, development=False))
    assert asyncio.run(targets.resolve(target, development=True)) in ("127.0.0.1", "[::1]")


def test_only_global_addresses_outside_development() -> None:
    targets.check_address(ipaddress.ip_address("8.8.8.8"), False)
    for private in ("192.168.1.1", "172.16.0.1", "100.64.0.1", "fd00::1", "0.0.0.0"):
        with pytest.raises(InvalidInput):
            targets.check_address(ipaddress.ip_address(private), False)
