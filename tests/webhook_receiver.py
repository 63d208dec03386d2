"""A real HTTP receiver on 127.0.0.1 for webhook tests: records each request, answers with
the status the test sets, and can hold requests open (to stop the sender mid-delivery)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    port: int = 0
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    hold: asyncio.Event | None = None  # set: answer; None: answer at once
    holding: int = 0  # requests held open right now

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(path, headers, body.decode()))
            if self.hold is not None and not self.hold.is_set():
                self.holding += 1
                await self.hold.wait()
                self.holding -= 1
            head = f"HTTP/1.1 {self.status} X\r\ncontent-length: 2\r\nconnection: close\r\n"
            writer.write(head.encode() + b"\r\nok")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def receiving(status: int = 200) -> AsyncIterator[Receiver]:
    receiver = Receiver(status=status)
    server = await asyncio.start_server(receiver._serve, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
