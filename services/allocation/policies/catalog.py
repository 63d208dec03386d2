"""The published policies: every ``<id>.v<version>.json`` beside this module, validated
once at start. A version is never edited: a change is a new file with the next version."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from services.allocation.policies.model import Policy
from shared.contracts.allocation import RoundSource
from shared.decider import NotFound

HERE = Path(__file__).parent
DEFAULT_POLICY = "population-share"
_FILE = re.compile(r"^(?P<id>[a-z0-9-]+)\.v(?P<version>\d+)\.json$")


class PolicyFileError(ValueError):
    pass


@cache
def catalog() -> dict[str, tuple[Policy, ...]]:
    """Policy id -> its versions, oldest first."""
    found: dict[str, list[Policy]] = {}
    for file in sorted(HERE.glob("*.json")):
        name = _FILE.match(file.name)
        if name is None:
            raise PolicyFileError(f"{file.name}: policy files are named <id>.v<version>.json")
        policy = Policy.model_validate_json(file.read_text(encoding="utf-8"))
        if (policy.id, policy.version) != (name["id"], int(name["version"])):
            raise PolicyFileError(f"{file.name}: id and version differ from the file name")
        found.setdefault(policy.id, []).append(policy)
    if DEFAULT_POLICY not in found:
        raise PolicyFileError(f"the default policy {DEFAULT_POLICY} is missing")
    return {k: tuple(sorted(v, key=lambda p: p.version)) for k, v in sorted(found.items())}


def versions(policy_id: str) -> tuple[Policy, ...]:
    found = catalog().get(policy_id)
    if not found:
        raise NotFound(f"no policy {policy_id}", field="policy_id", code="policy-not-found")
    return found


def policy(policy_id: str, version: int | None = None) -> Policy:
    """A version of a policy; the latest when none is named."""
    found = versions(policy_id)
    if version is None:
        return found[-1]
    for candidate in found:
        if candidate.version == version:
            return candidate
    raise NotFound(f"no version {version} of policy {policy_id}", code="policy-not-found")


def policy_for(donor: str, products: tuple[str, ...], source: RoundSource) -> Policy:
    """The latest version of the first policy (by id) whose conditions fit, else the default."""
    for found in catalog().values():
        latest = found[-1]
        if latest.applies_to is not None and latest.applies_to.fits(donor, products, source):
            return latest
    return policy(DEFAULT_POLICY)
