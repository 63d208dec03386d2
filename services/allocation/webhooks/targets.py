"""Where a webhook may go: HTTPS to a public address. Plain HTTP only to the loopback host
in development and tests; private, loopback, link-local and reserved addresses refused
outside development (SSRF). The address is checked when the endpoint is registered and
again at each delivery, which connects to the very address it checked (no DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.decider import InvalidInput

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
MAX_URL_LENGTH = 2000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Unsafe(Exception):
    """A delivery target that resolves to an address we may not call."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query


def parse(url: str, development: bool) -> Target:
    """The endpoint's URL, checked on registration (``InvalidInput`` on field ``url``)."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput("the URL is too long", field="url", code="url-too-long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidInput(f"not a URL: {error}", field="url", code="bad-url") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidInput("give an https:// URL", field="url", code="bad-url")
    if parts.username or parts.password or parts.fragment:
        raise InvalidInput("no credentials or fragment in the URL", field="url", code="bad-url")
    if parts.scheme == "http" and not (development and host in LOOPBACK_NAMES):
        raise InvalidInput(
            "webhooks go over https (plain http only to localhost in development)",
            field="url",
            code="https-required",
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    target = Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)
    literal = _literal(host)
    if literal is not None:
        check_address(literal, development)
    return target


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, development: bool
) -> None:
    if address.is_global:
        return
    if development and (address.is_loopback or address.is_private):
        return
    raise InvalidInput(
        f"{address} is not a public address", field="url", code="address-not-allowed"
    )


async def resolve(target: Target, development: bool, resolve_seconds: float = 5.0) -> str:
    """The address to connect to: the first the name resolves to, all of them allowed."""
    literal = _literal(target.host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            async with asyncio.timeout(resolve_seconds):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    target.host, target.port, type=socket.SOCK_STREAM
                )
        except (OSError, TimeoutError) as error:
            raise Unsafe(f"cannot resolve {target.host}: {error}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise Unsafe(f"{target.host} has no address")
    for address in addresses:
        try:
            check_address(address, development)
        except InvalidInput as error:
            raise Unsafe(error.detail) from None
    first = addresses[0]
    return f"[{first}]" if first.version == 6 else str(first)
