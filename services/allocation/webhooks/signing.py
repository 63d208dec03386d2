"""Secrets and signatures: ``whsec_`` secrets signed per Standard Webhooks (HMAC-SHA256 over
``id.timestamp.body``) by the ``standardwebhooks`` library; secrets are encrypted at rest."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime

from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

SECRET_BYTES = 32


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def headers(secret: str, webhook_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, timestamp, body),
    }


class SecretBox:
    """Encrypts secrets at rest with a key derived from the service's key material
    (``AIDPORT_WEBHOOK_SECRET_KEY``, else the JWT secret): a database dump alone does not
    give the secrets away."""

    def __init__(self, key_material: str) -> None:
        key = hashlib.sha256(b"aidport-webhooks\0" + key_material.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        return self._fernet.decrypt(sealed).decode()
