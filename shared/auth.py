"""Bearer JWT authentication with a role and a scope, and the development identity provider.

A token carries ``sub`` (the user), ``name``, ``role`` and ``scope``: the airports of an
intake or customs officer, the one recipient code of a province officer (a province's
health department, or a national recipient such as the army's medical department). The
actor of every command (user and role) goes into the event metadata.

The built-in issuer's tokens are bound to one service (``aud``) and carry the account's
token version (``ver``): the service accepts them only while its account is active and
still at that version (``shared.accounts``). Tokens of an external OpenID Connect
issuer are read with the same claim rules (``principal_from_claims``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.reference_data import national_recipients

ISSUER = "aidport"
ALGORITHM = "HS256"


class Role(StrEnum):
    INTAKE_OFFICER = "intake_officer"
    INTAKE_SUPERVISOR = "intake_supervisor"  # accepts lots flagged short shelf life
    CUSTOMS_OFFICER = "customs_officer"
    ALLOCATION_OFFICER = "allocation_officer"
    ALLOCATION_APPROVER = "allocation_approver"  # signs the Ministry's decision (four-eyes)
    STORE_OFFICER = "store_officer"  # the national store: dispatches to recipients
    PROVINCE_OFFICER = "province_officer"  # a recipient's officer: a province or a national one
    NATIONAL_VIEWER = "national_viewer"
    ADMIN = "admin"


_ROLES = frozenset(r.value for r in Role)


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
        return self.role in (
            Role.ADMIN,
            Role.NATIONAL_VIEWER,
            Role.ALLOCATION_OFFICER,
            Role.ALLOCATION_APPROVER,
            Role.STORE_OFFICER,
        )

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


def audience_of(service: str) -> str:
    """The audience of the built-in issuer's tokens for one service."""
    return f"{ISSUER}:{service}"


def issue_token(
    principal: Principal, secret: str, ttl: timedelta, service: str = "", version: int = 1
) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": audience_of(service),
        "sub": principal.sub,
        "name": principal.name,
        "role": principal.role.value,
        "scope": " ".join(principal.scope),
        "ver": version,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


@dataclass(frozen=True)
class BuiltinToken:
    principal: Principal
    version: int


_VERIFIED_MAX = 4096  # tokens remembered at most (then forgotten all at once)
_verified: dict[tuple[str, str, str], tuple[BuiltinToken, float]] = {}


def read_token(token: str, secret: str, service: str = "") -> BuiltinToken:
    """A built-in issuer's token for this service: signature, expiry, audience and claims.

    A token that passed is remembered until it expires: the same bytes with the same secret
    pass the same checks, and only the expiry depends on the time (checking the signature
    again was a tenth of a command's time). Whether its account still accepts it is asked
    on every request (``shared.http.security``)."""
    key = (token, secret, service)
    known = _verified.get(key)
    if known is not None and time.time() < known[1]:
        return known[0]
    claims = decode_checked(
        lambda: jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            audience=audience_of(service),
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
    )
    version = claims.get("ver")
    if not isinstance(version, int) or isinstance(version, bool):
        raise AuthError("the token is not valid")
    read = BuiltinToken(principal_from_claims(claims), version)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified[key] = (read, float(claims["exp"]))
    return read


def verify_token(token: str, secret: str, service: str = "") -> Principal:
    return read_token(token, secret, service).principal


EXTERNAL_ALGORITHMS = ["RS256", "ES256"]


@cache
def jwks_client(url: str) -> jwt.PyJWKClient:
    """One key set client per URL: it keeps the keys and fetches again for a new key id."""
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def verify_external(
    token: str,
    jwks: jwt.PyJWKClient,
    issuer: str,
    audience: str,
    role_claim: str = "role",
    scope_claim: str = "scope",
) -> Principal:
    """A token of an external OpenID Connect issuer, signed with a key of its key set.

    Blocking (the key set is read over HTTP when a new key id appears): run it in a thread."""

    def decode() -> Any:
        key = jwks.get_signing_key_from_jwt(token).key
        return jwt.decode(
            token,
            key,
            algorithms=EXTERNAL_ALGORITHMS,
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )

    return principal_from_claims(decode_checked(decode), role_claim, scope_claim)


def decode_checked(decode: Callable[[], Any]) -> dict[str, Any]:
    """Runs a PyJWT decode, turning each of its failures into a 401."""
    try:
        claims = decode()
    except jwt.ExpiredSignatureError as error:
        raise AuthError("the token has expired; sign in again") from error
    except jwt.PyJWKClientConnectionError:
        raise  # the issuer is unreachable: not the caller's fault
    except (jwt.PyJWTError, ValueError) as error:
        raise AuthError("the token is not valid") from error
    if not isinstance(claims, dict):
        raise AuthError("the token is not valid")
    return claims


def principal_from_claims(
    claims: Mapping[str, Any], role_claim: str = "role", scope_claim: str = "scope"
) -> Principal:
    """The user a token names; any claim of the wrong type or value is a 401, not a 500."""
    sub, name = claims.get("sub"), claims.get("name", claims.get("sub"))
    if not isinstance(sub, str) or not sub or not isinstance(name, str):
        raise AuthError("the token does not name a user")
    role = _known_role(_claim(claims, role_claim))
    if role is None:
        raise AuthError("the token carries no known role")
    return Principal(sub=sub, name=name, role=role, scope=_scope(_claim(claims, scope_claim)))


def _claim(claims: Mapping[str, Any], path: str) -> object:
    """A claim by a dotted path, e.g. Keycloak's ``realm_access.roles``."""
    value: object = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _known_role(value: object) -> Role | None:
    """The role named by a string, or the first known one of a list (Keycloak's roles)."""
    names = value if isinstance(value, list) else [value]
    return next((Role(n) for n in names if isinstance(n, str) and n in _ROLES), None)


def _scope(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise AuthError("the token's scope is neither a string nor a list of strings")


# -- passwords -----------------------------------------------------------------------

# argon2id with OWASP's first configuration (19 MiB, 2 passes, 1 lane). The library's
# default (RFC 9106 low-memory: 64 MiB, 3 passes, 4 lanes) took 64 MiB of resident memory for
# every sign-in, a third of a service's budget; hashes made with it still verify.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# -- the development identity provider ----------------------------------------------

DEMO_PASSWORD = "aidport-demo"


@dataclass(frozen=True)
class DemoUser:
    principal: Principal


def _demo(sub: str, name: str, role: Role, *scope: str) -> DemoUser:
    return DemoUser(Principal(sub, name, role, tuple(scope)))


@cache
def demo_users(province_codes: tuple[str, ...]) -> dict[str, DemoUser]:
    """Demo logins: one per role, one province officer per province (``province-01`` ...)
    and per national recipient (``recipient-mod`` ...): the same role, scoped to its code.

    They become accounts (``shared.accounts``) only when the demo identity provider is on."""
    users = [
        _demo("intake.han", "Intake officer, Noi Bai", Role.INTAKE_OFFICER, "HAN"),
        _demo("intake.sgn", "Intake officer, Tan Son Nhat", Role.INTAKE_OFFICER, "SGN"),
        _demo("supervisor.han", "Intake supervisor, Noi Bai", Role.INTAKE_SUPERVISOR, "HAN"),
        _demo("customs.han", "Customs officer, Noi Bai", Role.CUSTOMS_OFFICER, "HAN"),
        _demo("customs.sgn", "Customs officer, Tan Son Nhat", Role.CUSTOMS_OFFICER, "SGN"),
        _demo("allocation.moh", "Allocation officer, Ministry of Health", Role.ALLOCATION_OFFICER),
        _demo("approver.moh", "Decision signatory, Ministry of Health", Role.ALLOCATION_APPROVER),
        _demo("store.nepi", "National store, National EPI", Role.STORE_OFFICER),
        _demo("viewer", "National viewer", Role.NATIONAL_VIEWER),
        _demo("admin", "Administrator", Role.ADMIN),
    ]
    users += [
        _demo(f"province-{code}", f"Health department {code}", Role.PROVINCE_OFFICER, code)
        for code in province_codes
    ]
    users += [
        _demo(
            f"recipient-{r.code.lower()}",
            f"Receiving officer, {r.name_en}",
            Role.PROVINCE_OFFICER,
            r.code,
        )
        for r in national_recipients()
    ]
    return {u.principal.sub: u for u in users}
