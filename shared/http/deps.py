"""FastAPI dependencies common to every router: the running service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """Async, as every dependency here: a sync one would hop to a worker thread."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
