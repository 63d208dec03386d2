"""Serve one service with uvicorn: ``python -m services.<name>``."""

from __future__ import annotations

import os

import uvicorn


def serve(service: str, default_port: int) -> None:
    port = int(
        os.environ.get(f"{service.upper()}_PORT") or os.environ.get("AIDPORT_PORT") or default_port
    )
    host = os.environ.get("AIDPORT_HOST", "127.0.0.1")
    uvicorn.run(
        f"services.{service}.main:app",
        host=host,
        port=port,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
