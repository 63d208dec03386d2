"""Serve one service with uvicorn: ``python -m services.<name>``."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any, Literal

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
        # One log line per request costs a command several percent of its time; the request
        # metrics and the correlation id cover them. AIDPORT_ACCESS_LOG=true turns it on.
        access_log=os.environ.get("AIDPORT_ACCESS_LOG", "").lower() in ("1", "true", "yes"),
        **fast_io(),
    )


def fast_io() -> dict[str, Any]:
    """uvloop and httptools when installed (``uvicorn[standard]``): a faster event loop and
    HTTP parser than asyncio's and h11. Also used by the benchmark's bare endpoint."""
    loop: Literal["uvloop", "asyncio"] = "uvloop" if _installed("uvloop") else "asyncio"
    http: Literal["httptools", "h11"] = "httptools" if _installed("httptools") else "h11"
    return {"loop": loop, "http": http}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
