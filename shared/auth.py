"""Bearer JWT authentication with a role and a scope, and the development identity provider.

A token carries ``sub`` (the user), ``name``, ``role`` and ``scope``: the airports of an
intake or customs officer, the one province code of a province health officer. The
actor of every command (user and role) goes into the event metadata.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache

import jwt

ISSUER = "aidport"
ALGORITHM = "HS256"


class Role(StrEnum):
    INTAKE_OFFICER = "intake_officer"
    CUSTOMS_OFFICER = "customs_officer"
    ALLOCATION_OFFICER = "allocation_officer"
    PROVINCE_OFFICER = "province_officer"
    NATIONAL_VIEWER = "national_viewer"
    ADMIN = "admin"


class AuthError(Exception):
    def __init__(self, detail: str, status: int = 401) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class Principal:
    sub: str
    name: str
    role: Role
    scope: tuple[str, ...] = ()

    def require(self, *roles: Role) -> None:
        if self.role is not Role.ADMIN and self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise AuthError(f"role {self.role.value} may not do this (needs: {allowed})", 403)

    @property
    def national(self) -> bool:
        """Roles whose scope is the whole country."""
        return self.role in (Role.ADMIN, Role.NATIONAL_VIEWER, Role.ALLOCATION_OFFICER)

    def covers(self, scope_item: str) -> bool:
        """Whether this user may act for an airport or province (national roles: all)."""
        return self.national or scope_item in self.scope

    def visible(self, requested: str | None = None) -> list[str] | None:
        """What a list may show: the requested airport or province if covered, else the
        user's own scope; None means everything (national roles)."""
        if requested is not None:
            return [requested] if self.covers(requested) else []
        return None if self.national else list(self.scope)

    def require_scope(self, scope_item: str, what: str) -> None:
        if not self.covers(scope_item):
            raise AuthError(f"{self.sub} is not allowed to act for {what} {scope_item}", 403)

    def as_metadata(self) -> dict[str, str]:
        return {"actor": self.sub, "actor_role": self.role.value}


def issue_token(principal: Principal, secret: str, ttl: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": principal.sub,
        "name": principal.name,
        "role": principal.role.value,
        "scope": " ".join(principal.scope),
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub"]},
        )
        return Principal(
            sub=claims["sub"],
            name=claims.get("name", claims["sub"]),
            role=Role(claims["role"]),
            scope=tuple(claims.get("scope", "").split()),
        )
    except jwt.ExpiredSignatureError as error:
        raise AuthError("the token has expired; sign in again") from error
    except (jwt.InvalidTokenError, KeyError, ValueError) as error:
        raise AuthError("the token is not valid") from error


# -- the development identity provider ----------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    principal: Principal
    password_sha256: str

    def check(self, password: str) -> bool:
        digest = hashlib.sha256(password.encode()).hexdigest()
        return hmac.compare_digest(digest, self.password_sha256)


DEMO_PASSWORD = "aidport-demo"


def _demo(sub: str, name: str, role: Role, *scope: str) -> DemoUser:
    digest = hashlib.sha256(DEMO_PASSWORD.encode()).hexdigest()
    return DemoUser(Principal(sub, name, role, tuple(scope)), digest)


@cache
def demo_users(province_codes: tuple[str, ...]) -> dict[str, DemoUser]:
    """Demo logins: one per role, one province officer per province (``province-01`` ...)."""
    users = [
        _demo("intake.han", "Intake officer, Noi Bai", Role.INTAKE_OFFICER, "HAN"),
        _demo("intake.sgn", "Intake officer, Tan Son Nhat", Role.INTAKE_OFFICER, "SGN"),
        _demo("customs.han", "Customs officer, Noi Bai", Role.CUSTOMS_OFFICER, "HAN"),
        _demo("customs.sgn", "Customs officer, Tan Son Nhat", Role.CUSTOMS_OFFICER, "SGN"),
        _demo("allocation.moh", "Allocation officer, Ministry of Health", Role.ALLOCATION_OFFICER),
        _demo("viewer", "National viewer", Role.NATIONAL_VIEWER),
        _demo("admin", "Administrator", Role.ADMIN),
    ]
    users += [
        _demo(f"province-{code}", f"Health department {code}", Role.PROVINCE_OFFICER, code)
        for code in province_codes
    ]
    return {u.principal.sub: u for u in users}
