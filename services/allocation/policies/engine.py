"""A policy applied to one released line: quotas first, then the donor's earmark, then
shares of what is left by weight, capped by remaining need, in whole packs or cartons, the
rest explicitly in the national reserve. Pure and deterministic; integers only.

Every line drafted here conserves: the shares plus the reserve equal the released quantity,
and every share is a whole number of the line's packs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from services.allocation.policies.apportion import apportion_capped
from services.allocation.policies.model import CartonFallback, PackagingLevel, Policy
from services.allocation.policy import RESERVE, assign_lots
from shared.contracts.allocation import DraftLine, DraftShare, ShareBasis
from shared.contracts.values import LineItem, Lot, Storage


@dataclass(frozen=True)
class RecipientFacts:
    """What the engine needs of a recipient (see ``services.allocation.recipients``)."""

    population: int
    ultra_cold: bool


@dataclass
class _Draft:
    released: int
    pack: int
    left: int
    quantities: dict[str, int] = field(default_factory=dict)
    basis: dict[str, ShareBasis] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def give(self, code: str, units: int, basis: ShareBasis, reason: str) -> None:
        self.quantities[code] = self.quantities.get(code, 0) + units
        self.basis[code] = basis
        self.reasons[code] = reason[:200]
        self.left -= units


def draft_line(
    line: LineItem,
    donor: str,
    policy: Policy,
    facts: Mapping[str, RecipientFacts],
    received: Mapping[str, int],
) -> DraftLine:
    """``facts``: every known recipient; ``received``: units of this product counted against
    each one's need (accepted on receipt, or in flight)."""
    draft = _Draft(line.quantity, line.pack_size, line.quantity)
    ultra = line.storage is Storage.ULTRA_COLD_90_60 and policy.ultra_cold_needs_capacity

    def eligible(code: str) -> bool:
        known = facts.get(code)
        return known is not None and (not ultra or known.ultra_cold)

    quota_holders = _quotas(draft, line, policy, eligible)
    earmark = policy.earmark_for(donor, line.product)
    pool = earmark.recipients if earmark else policy.share_among or _provinces(facts)
    sharing = [c for c in pool if c not in quota_holders and eligible(c)]
    weights = {c: facts[c].population * policy.priority(c) for c in sorted(sharing)}
    if earmark and len(sharing) == 1:  # one recipient: nothing to weigh
        weights = {sharing[0]: 1}
    caps = {
        c: max(0, policy.targets[c] - received.get(c, 0)) for c in weights if c in policy.targets
    }
    basis = ShareBasis.EARMARK if earmark else ShareBasis.SHARE
    why = earmark.reason if earmark and earmark.reason else ""  # a plain share says it all
    _share(draft, policy, weights, caps, basis, why)
    _minimum(draft, policy)
    return _line(line, draft, policy.packaging.level)


def _provinces(facts: Mapping[str, RecipientFacts]) -> tuple[str, ...]:
    return tuple(code for code, f in facts.items() if f.population > 0)


def _quotas(
    draft: _Draft, line: LineItem, policy: Policy, eligible: Callable[[str], bool]
) -> set[str]:
    holders: set[str] = set()
    for quota in policy.quotas_for(line.product):
        holders.add(quota.recipient)
        if not eligible(quota.recipient):
            draft.give(quota.recipient, 0, ShareBasis.QUOTA, "quota not given: no ultra-cold")
            continue
        wanted = quota.wanted(draft.released) // draft.pack * draft.pack
        units = min(wanted, draft.left // draft.pack * draft.pack)
        note = f"quota {wanted}" + (f": {quota.reason}" if quota.reason else "")
        if units < wanted:
            note += f" (only {units} left)"
        draft.give(quota.recipient, units, ShareBasis.QUOTA, note)
    return holders


def _share(
    draft: _Draft,
    policy: Policy,
    weights: dict[str, int],
    caps: dict[str, int],
    basis: ShareBasis,
    why: str,
) -> None:
    pack = draft.pack
    packaging = policy.packaging
    given: dict[str, int] = dict.fromkeys(weights, 0)
    capped: set[str] = set()
    if packaging.level is PackagingLevel.SHIPPER_CARTON:
        assert packaging.packs_per_carton is not None
        carton = packaging.packs_per_carton * pack
        cartons, held = apportion_capped(
            draft.left // carton, weights, policy.method, {c: v // carton for c, v in caps.items()}
        )
        given = {c: n * carton for c, n in cartons.items()}
        capped |= held
        draft.left -= sum(given.values())
        if packaging.fallback is CartonFallback.INNER_PACK:
            loose = {c: (caps[c] - given[c]) // pack for c in caps}
            packs, held = apportion_capped(draft.left // pack, weights, policy.method, loose)
            capped |= held
            for code, n in packs.items():
                given[code] += n * pack
                draft.left -= n * pack
        else:
            for code in weights:
                if given[code] == 0 and weights[code] > 0:
                    draft.give(code, 0, basis, f"left out: a carton of {carton} exceeds its share")
    else:
        packs, held = apportion_capped(
            draft.left // pack, weights, policy.method, {c: v // pack for c, v in caps.items()}
        )
        capped |= held
        given = {c: n * pack for c, n in packs.items()}
        draft.left -= sum(given.values())
    for code, units in sorted(given.items()):
        if units == 0:
            continue
        draft.left += units  # give() takes it again
        if code in capped:
            draft.give(code, units, ShareBasis.CAP, f"capped at remaining need {caps[code]}")
        else:
            draft.give(code, units, basis, why)


def _minimum(draft: _Draft, policy: Policy) -> None:
    """Shares below the minimum shipment go back to the reserve, said so per recipient."""
    if policy.minimum_shipment == 0:
        return
    for code, units in list(draft.quantities.items()):
        if 0 < units < policy.minimum_shipment and draft.basis[code] is not ShareBasis.QUOTA:
            draft.quantities[code] = 0
            draft.left += units
            draft.reasons[code] = f"below the minimum shipment of {policy.minimum_shipment}"


def _line(line: LineItem, draft: _Draft, level: PackagingLevel) -> DraftLine:
    units = {c: q for c, q in draft.quantities.items() if q > 0}
    lots = assign_lots(units, line.lots) if line.lots else {}
    order = sorted(draft.quantities, key=lambda c: (_BASIS_ORDER[draft.basis[c]], c))
    return DraftLine(
        line_no=line.line_no,
        product=line.product,
        unit=line.unit,
        packaging_level=level.value,
        pack_size=line.pack_size,
        released_quantity=line.quantity,
        shares=tuple(
            DraftShare(
                recipient_code=code,
                quantity=draft.quantities[code],
                packs=draft.quantities[code] // line.pack_size,
                basis=draft.basis[code],
                reasoning=draft.reasons[code],
                lots=lots.get(code, ()),
            )
            for code in order
        ),
        reserve_quantity=draft.left,
        reserve_lots=lots.get(RESERVE, ()),
    )


_BASIS_ORDER = {
    ShareBasis.QUOTA: 0,
    ShareBasis.EARMARK: 1,
    ShareBasis.SHARE: 2,
    ShareBasis.CAP: 2,
    ShareBasis.ADJUSTED: 3,
}


def lots_of(line: DraftLine) -> tuple[Lot, ...]:
    """Every lot of a line, whole again (the parts of its shares and reserve summed)."""
    parts: dict[tuple[date, str], int] = {}
    for lot in [*(x for s in line.shares for x in s.lots), *line.reserve_lots]:
        key = (lot.expiry_date, lot.lot_number)
        parts[key] = parts.get(key, 0) + lot.quantity
    return tuple(
        Lot(lot_number=number, expiry_date=expiry, quantity=q)
        for (expiry, number), q in sorted(parts.items())
    )
