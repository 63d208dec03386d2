"""The reference the commands are measured against: a bare FastAPI + asyncpg endpoint that
inserts one row per request, served like the services (uvicorn with the same loop and HTTP
parser). ``python -m bench.baseline`` with ``BENCH_DATABASE_URL`` and ``BENCH_PORT``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
import uvicorn
from fastapi import FastAPI, Request

from shared.http.serve import fast_io


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(os.environ["BENCH_DATABASE_URL"], min_size=10, max_size=10)
    assert pool is not None
    await pool.execute("CREATE TABLE IF NOT EXISTS bench_rows (id uuid PRIMARY KEY, body jsonb)")
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/rows", status_code=201)
async def insert_row(request: Request) -> dict[str, Any]:
    """Parses the same JSON body an announcement carries and stores it as one row."""
    body = orjson.loads(await request.body())
    row_id = uuid.uuid4()
    await request.app.state.pool.execute(
        "INSERT INTO bench_rows (id, body) VALUES ($1, $2::jsonb)",
        row_id,
        orjson.dumps(body).decode(),
    )
    return {"id": str(row_id)}


@app.get("/ping")
@app.get("/health/ready")
async def ping() -> dict[str, str]:
    """No database: what the client and the HTTP stack alone can do."""
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ["BENCH_PORT"]),
        log_level="warning",
        access_log=False,
        **fast_io(),
    )
