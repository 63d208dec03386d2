"""A lean HTTP/1.1 load client: keep-alive connections on asyncio streams, closed and open loop.

Lighter than httpx or aiohttp per request, so that on 2 cores the client takes as little CPU
as possible from the servers it measures; its own ceiling is measured against a bare endpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        head += f"Content-Type: {content_type}\r\n" if body else ""
        head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        payload = head.encode() + b"\r\n" + body
        try:
            return await self._exchange(payload)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.close()  # the server closed a kept-alive connection: one new attempt
            return await self._exchange(payload)

    async def json(self, method: str, path: str, data: Any, token: str = "") -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, body = await self.request(method, path, orjson.dumps(data), headers)
        return status, orjson.loads(body) if body else None

    async def _exchange(self, payload: bytes) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(payload)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        length, chunked, close = 0, False, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        body = await self._chunked(reader) if chunked else await reader.readexactly(length)
        if close:
            self.close()
        return int(status_line.split()[1]), body

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while size := int((await reader.readline()).strip() or b"0", 16):
            parts.append(await reader.readexactly(size))
            await reader.readline()
        await reader.readline()
        return b"".join(parts)

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


Job = Callable[[Connection, int], Awaitable[bool]]
"""One request: the connection to use and the request's index; True when it succeeded."""


@dataclass
class Run:
    """What a load run measured: latencies in seconds, successes, failures, duration."""

    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    elapsed: float = 0.0
    client_cpu: float = 0.0  # the client's CPU seconds per wall second (1.0 = one core)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> dict[str, float]:
        return {
            "requests": len(self.latencies),
            "failures": self.failures,
            "seconds": round(self.elapsed, 2),
            "per_second": round(self.rate, 1),
            "p50_ms": round(self.percentile(50) * 1000, 1),
            "p95_ms": round(self.percentile(95) * 1000, 1),
            "p99_ms": round(self.percentile(99) * 1000, 1),
            "client_cpu_cores": round(self.client_cpu, 2),
        }


async def closed_loop(
    port: int, job: Job, clients: int, seconds: float, limit: int | None = None
) -> Run:
    """``clients`` workers, each sending its next request when the last one is answered,
    for ``seconds`` or until ``limit`` requests were started."""
    run, counter = Run(), iter(range(limit if limit is not None else 10**12))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        connection = Connection(port)
        try:
            while time.perf_counter() < deadline and (index := next(counter, None)) is not None:
                started = time.perf_counter()
                ok = await job(connection, index)
                if ok:
                    run.latencies.append(time.perf_counter() - started)
                else:
                    run.failures += 1
        finally:
            connection.close()

    await _timed(run, asyncio.gather(*(worker() for _ in range(clients))))
    return run


async def open_loop(port: int, job: Job, rate: float, count: int) -> Run:
    """``count`` requests at a fixed arrival rate, whatever the answers' pace; each latency
    counts from the request's scheduled start, so a slow server cannot hide its queue."""
    run, idle = Run(), [Connection(port) for _ in range(64)]
    start = time.perf_counter()

    async def one(index: int) -> None:
        scheduled = start + index / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        connection = idle.pop() if idle else Connection(port)
        try:
            ok = await job(connection, index)
        finally:
            idle.append(connection)
        if ok:
            run.latencies.append(time.perf_counter() - scheduled)
        else:
            run.failures += 1

    await _timed(run, asyncio.gather(*(one(i) for i in range(count))))
    for connection in idle:
        connection.close()
    return run


async def _timed(run: Run, work: Awaitable[Any]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    await work
    run.elapsed = time.perf_counter() - wall
    run.client_cpu = (time.process_time() - cpu) / run.elapsed if run.elapsed else 0.0
