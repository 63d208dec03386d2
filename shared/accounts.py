"""The users a service knows, the revocation of their tokens and sign-in throttling.

Each service keeps these in its own database (``shared/sql/0002_identity.sql``): services
share no database, and the built-in issuer's tokens are bound to the service that issued
them, so revoking at one service covers every built-in token that service accepts.
There is no cache: a request costs one primary-key lookup, and a revocation is immediate.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import asyncpg

from shared.auth import Principal, Role, hash_password, password_matches


@dataclass(frozen=True)
class Account:
    principal: Principal
    active: bool
    token_version: int


@dataclass(frozen=True)
class TokenStatus:
    active: bool
    token_version: int
    demo: bool


class Accounts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def seed_demo(self, principals: Iterable[Principal], password: str) -> int:
        """Adds the demo users not known yet, all with this password; returns how many.
        Demo accounts count only while the demo identity provider is on.

        They share one password, so one salted argon2id hash serves them all: hashing
        each would cost seconds at every start for no gain."""
        wanted = {p.sub: p for p in principals}
        known = await self.pool.fetch("SELECT sub FROM accounts WHERE sub = ANY($1)", list(wanted))
        missing = [p for sub, p in wanted.items() if sub not in {r["sub"] for r in known}]
        if not missing:
            return 0
        password_hash = await asyncio.to_thread(hash_password, password)
        await self.pool.executemany(
            "INSERT INTO accounts (sub, name, role, scope, password_hash, demo)"
            " VALUES ($1, $2, $3, $4, $5, true) ON CONFLICT (sub) DO NOTHING",
            [(p.sub, p.name, p.role.value, list(p.scope), password_hash) for p in missing],
        )
        return len(missing)

    async def save(self, principal: Principal, password: str) -> None:
        """Adds or replaces a (non-demo) user with this password; its old tokens stop counting."""
        password_hash = await asyncio.to_thread(hash_password, password)
        await self.pool.execute(
            "INSERT INTO accounts (sub, name, role, scope, password_hash)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sub) DO UPDATE SET"
            " name = $2, role = $3, scope = $4, password_hash = $5,"
            " active = true, demo = false, token_version = accounts.token_version + 1,"
            " updated_at = now()",
            principal.sub,
            principal.name,
            principal.role.value,
            list(principal.scope),
            password_hash,
        )

    async def authenticate(self, sub: str, password: str, demo: bool) -> Account | None:
        """The active account with this password, else None (``demo``: demo accounts count)."""
        row = await self.pool.fetchrow("SELECT * FROM accounts WHERE sub = $1", sub)
        if (
            row is None
            or not row["active"]
            or not row["password_hash"]
            or (row["demo"] and not demo)
        ):
            # The same cost as a real check, so that timing does not tell who exists.
            await asyncio.to_thread(password_matches, _decoy(), password)
            return None
        if not await asyncio.to_thread(password_matches, row["password_hash"], password):
            return None
        if row["role"] not in {r.value for r in Role}:
            return None
        principal = Principal(row["sub"], row["name"], Role(row["role"]), tuple(row["scope"]))
        return Account(principal, row["active"], row["token_version"])

    async def status(self, sub: str) -> TokenStatus | None:
        row = await self.pool.fetchrow(
            "SELECT active, token_version, demo FROM accounts WHERE sub = $1", sub
        )
        return None if row is None else TokenStatus(**row)

    async def revoke(self, sub: str) -> bool:
        """Every token issued so far for this user stops counting; False: unknown user."""
        row = await self.pool.fetchrow(
            "UPDATE accounts SET token_version = token_version + 1, updated_at = now()"
            " WHERE sub = $1 RETURNING sub",
            sub,
        )
        return row is not None

    async def set_active(self, sub: str, active: bool, create: bool = False) -> bool:
        """Enables or disables a user, revoking its tokens. ``create`` records a user of an
        external issuer that this service has no account for; False: unknown user."""
        row = await self.pool.fetchrow(
            "UPDATE accounts SET active = $2, token_version = token_version + 1,"
            " updated_at = now() WHERE sub = $1 RETURNING sub",
            sub,
            active,
        )
        if row is None and create:
            await self.pool.execute(
                "INSERT INTO accounts (sub, name, role, active) VALUES ($1, $1, 'external', $2)"
                " ON CONFLICT (sub) DO UPDATE SET active = $2",
                sub,
                active,
            )
            return True
        return row is not None


@cache
def _decoy() -> str:
    return hash_password(secrets.token_urlsafe(16))


# -- throttling ----------------------------------------------------------------------


def seconds_to_wait(failures: int, limit: int, seconds_left: float) -> int | None:
    """How long a key that failed ``failures`` times must wait (None: it may try now)."""
    if failures < limit or seconds_left <= 0:
        return None
    return max(1, math.ceil(seconds_left))


@dataclass(frozen=True)
class LoginThrottle:
    """Failed sign-ins counted per user name and per client address in a fixed window.

    The counts live in PostgreSQL so that every replica sees the same ones. Only failures
    count: a user who signs in often is never held back by their own successes."""

    pool: asyncpg.Pool
    window_seconds: int
    per_user: int
    per_client: int

    def _keys(self, user: str, client: str) -> dict[str, int]:
        return {f"user:{user[:200]}": self.per_user, f"client:{client}": self.per_client}

    async def retry_after(self, user: str, client: str) -> int | None:
        """Seconds to wait before the next try, or None when one is allowed now."""
        limits = self._keys(user, client)
        rows = await self.pool.fetch(
            "SELECT key, failures, EXTRACT(EPOCH FROM window_started"
            " + make_interval(secs => $2) - now())::float8 AS left"
            " FROM login_failures WHERE key = ANY($1)",
            list(limits),
            float(self.window_seconds),
        )
        waits = [seconds_to_wait(r["failures"], limits[r["key"]], r["left"]) for r in rows]
        return max((w for w in waits if w is not None), default=None)

    async def failed(self, user: str, client: str) -> None:
        window = float(self.window_seconds)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM login_failures"
                " WHERE window_started < now() - make_interval(secs => $1)",
                window,
            )
            await conn.executemany(
                "INSERT INTO login_failures AS f (key, failures, window_started)"
                " VALUES ($1, 1, now()) ON CONFLICT (key) DO UPDATE SET"
                " failures = CASE WHEN f.window_started + make_interval(secs => $2) <= now()"
                " THEN 1 ELSE f.failures + 1 END,"
                " window_started = CASE WHEN f.window_started + make_interval(secs => $2) <= now()"
                " THEN now() ELSE f.window_started END",
                [(key, window) for key in self._keys(user, client)],
            )

    async def succeeded(self, user: str) -> None:
        await self.pool.execute("DELETE FROM login_failures WHERE key = $1", f"user:{user[:200]}")
