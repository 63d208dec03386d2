"""Review and decision: adjustments that conserve, approval by another person (four-eyes),
amendments by a new decision before dispatch, each telling the recipients concerned."""

from __future__ import annotations

from uuid import UUID

from services.allocation.domain.changes import apply_changes
from services.allocation.domain.drafting import notices_of
from services.allocation.domain.notices import notice_number_for
from services.allocation.domain.rounds import AdjustRound, AmendRound, ApproveRound, existing_round
from services.allocation.domain.state import ConsignmentAllocation, Round, RoundStatus
from services.allocation.policy import RESERVE
from shared.contracts.allocation import (
    AllocatedToProvince,
    DraftLine,
    DraftShare,
    NoticeAmended,
    RoundAdjusted,
    RoundAmended,
    RoundApproved,
)
from shared.contracts.base import DomainEvent
from shared.contracts.values import Storage
from shared.decider import InvalidInput, NotPermitted, RuleBroken, StateConflict


def _known(command: AdjustRound | AmendRound, round_: Round) -> None:
    """Every recipient exists, and ultra-cold goods go only where they can be kept."""
    for index, change in enumerate(command.changes):
        code = change.recipient_code
        if code == RESERVE:
            continue
        if code not in command.recipients:
            raise InvalidInput(
                f"no recipient {code}",
                field=f"changes/{index}/recipient_code",
                code="recipient-not-found",
            )
        line = round_.line(change.line_no)
        ultra = line is not None and line.storage is Storage.ULTRA_COLD_90_60
        if ultra and change.quantity and code not in command.ultra_cold:
            raise RuleBroken(
                f"{code} has no ultra-cold capacity for line {change.line_no}",
                field=f"changes/{index}/recipient_code",
                code="no-ultra-cold",
            )


def adjust(command: AdjustRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    round_ = existing_round(state, command.round_id)
    if round_.status is not RoundStatus.DRAFTED:
        raise StateConflict(
            f"round {round_.round_id} is approved: amend it by a new decision instead",
            code="round-approved",
        )
    _known(command, round_)
    apply_changes(round_.lines, command.changes, command.reason)  # refuses what breaks a rule
    assert state.shipment_id is not None
    return [
        RoundAdjusted(
            shipment_id=state.shipment_id,
            round_id=round_.round_id,
            changes=command.changes,
            reason=command.reason,
            adjusted_by=command.by,
            adjusted_at=command.now,
        )
    ]


def approve(command: ApproveRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    round_ = existing_round(state, command.round_id)
    if round_.status is RoundStatus.APPROVED:
        if round_.decision_number == command.decision_number:
            return []  # a retry
        raise StateConflict(
            f"round {round_.round_id} is already approved by decision {round_.decision_number}",
            code="round-approved",
        )
    if command.by in round_.authors:
        raise NotPermitted(
            f"{command.by} drafted or adjusted round {round_.round_id}: another person approves"
            " it (four-eyes)",
            code="four-eyes",
        )
    assert state.shipment_id is not None
    approval = RoundApproved(
        shipment_id=state.shipment_id,
        round_id=round_.round_id,
        decision_number=command.decision_number,
        decision_date=command.decision_date,
        approved_by=command.by,
        approved_at=command.now,
        policy_id=round_.policy_id,
        policy_version=round_.policy_version,
    )
    return [approval, *notices_of(state.shipment_id, round_, approval)]


def amend(command: AmendRound, state: ConsignmentAllocation) -> list[DomainEvent]:
    round_ = existing_round(state, command.round_id)
    if round_.status is not RoundStatus.APPROVED:
        raise StateConflict(
            f"round {round_.round_id} is not approved yet: adjust the draft instead",
            code="round-not-approved",
        )
    if round_.legacy:
        raise StateConflict("a round decided by version 0.x cannot be amended", code="legacy")
    _known(command, round_)
    lines = apply_changes(round_.lines, command.changes, command.reason)
    assert state.shipment_id is not None
    amended = RoundAmended(
        shipment_id=state.shipment_id,
        round_id=round_.round_id,
        decision_number=command.decision_number,
        decision_date=command.decision_date,
        changes=command.changes,
        reason=command.reason,
        amended_by=command.by,
        amended_at=command.now,
    )
    return [amended, *_amendednotices_of(state, round_, lines, amended)]


def _amendednotices_of(
    state: ConsignmentAllocation, round_: Round, lines: tuple[DraftLine, ...], amended: RoundAmended
) -> list[DomainEvent]:
    assert state.shipment_id is not None
    events: list[DomainEvent] = []
    for before, after in zip(round_.lines, lines, strict=True):
        old = {s.recipient_code: s for s in before.shares}
        for share in after.shares:
            number = notice_number_for(round_.round_id, share.recipient_code, after.line_no)
            previous = old.get(share.recipient_code)
            if previous is not None and (previous.quantity, previous.lots) == (
                share.quantity,
                share.lots,
            ):
                continue
            notice = state.notices.get(number)
            if notice is not None and notice.dispatched:
                raise StateConflict(
                    f"notice {number} is dispatched: its quantity or lots cannot change",
                    code="notice-dispatched",
                )
            if notice is not None:
                events.append(
                    NoticeAmended(
                        shipment_id=state.shipment_id,
                        notice_number=number,
                        round_id=round_.round_id,
                        province_code=share.recipient_code,
                        decision_number=amended.decision_number,
                        quantity=share.quantity,
                        packs=share.packs,
                        lots=share.lots,
                        amended_at=amended.amended_at,
                    )
                )
            elif share.quantity > 0:
                events.append(_new_notice(state.shipment_id, round_, after, share, amended))
    return events


def _new_notice(
    shipment_id: UUID, round_: Round, line: DraftLine, share: DraftShare, amended: RoundAmended
) -> AllocatedToProvince:
    return AllocatedToProvince(
        shipment_id=shipment_id,
        notice_number=notice_number_for(round_.round_id, share.recipient_code, line.line_no),
        round_id=round_.round_id,
        province_code=share.recipient_code,
        line_no=line.line_no,
        product=line.product,
        unit=line.unit,
        pack_size=line.pack_size,
        quantity=share.quantity,
        packs=share.packs,
        lots=share.lots,
        released_at=round_.released_at,
        decision_number=amended.decision_number,
    )
