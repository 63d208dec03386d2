"""Serve one service with uvicorn: ``python -m services.<name>``."""

from __future__ import annotations

import os
import sys

import uvicorn

from shared.settings import UnsafeSettings, load_settings


def serve(service: str, default_port: int) -> None:
    try:
        load_settings(service).require_safe()
    except (UnsafeSettings, ValueError) as error:
        # One line an operator reads at once, not a traceback; a non-zero exit.
        print(f"aidport {service}: {' '.join(str(error).split())}", file=sys.stderr)
        sys.exit(2)
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
