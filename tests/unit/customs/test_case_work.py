"""Customs officers' work on a case: declaration, documents, lanes, examination, holds,
partial release, refusal, closure; and the per-lot balance that must always hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.customs.domain import (
    AmendCase,
    AssignLane,
    CaseStatus,
    ClearanceCase,
    ClearFastTrack,
    CloseCase,
    CompleteArrivals,
    LodgeDeclaration,
    OpenCase,
    PlaceHold,
    PresentGoods,
    RecordDocument,
    RecordExamination,
    RefuseGoods,
    ReleaseGoods,
    ReleaseHold,
    decider,
    units_of,
)
from services.customs.domain.schedule import OfficeHours, clearance_target
from shared.contracts.base import DomainEvent
from shared.contracts.customs import (
    CaseClosure,
    ClearanceCaseClosed,
    ClearedFastTrack,
    DeclarationType,
    Document,
    DocumentStatus,
    Examination,
    ExaminationPlace,
    GoodsRefused,
    GoodsReleased,
    HeldLot,
    HoldReason,
    Lane,
    LotExpiry,
    RefusalOutcome,
)
from shared.contracts.intake import ShipmentAnnounced
from shared.contracts.values import Category, Priority, Storage, Unit
from shared.decider import DomainError, InvalidInput, NotFound, StateConflict
from tests.unit.builders import CHANNEL, NOW, SHIPMENT, line, lot, received

VACCINE = line(1, 1000, lots=(lot("A1", 500), lot("A2", 300, days=90), lot("A3", 200)))
MASKS = line(
    2,
    250,
    lots=(),
    category=Category.MEDICAL_SUPPLY,
    unit=Unit.PIECES,
    pack_size=50,
    storage=Storage.AMBIENT,
)
OPEN = OpenCase.from_announcement(
    ShipmentAnnounced(
        shipment_id=SHIPMENT,
        donor="COVAX",
        channel=CHANNEL,
        airport="HAN",
        flight="VN0317",
        airway_bill="738-1",
        expected_arrival=NOW,
        consignee="NIHE",
        lines=(VACCINE, MASKS),
    )
)
OFFICER = "customs.han"


def present(*entries: tuple[int, str, int], part: int = 1) -> PresentGoods:
    return PresentGoods(NOW, received(*entries), part)


PRESENT = present((1, "A1", 500), (1, "A2", 300), (1, "A3", 200), (2, "", 250))
DECLARE = LodgeDeclaration(
    "104123456789", DeclarationType.FULL, None, "Resolution 106/NQ-CP", OFFICER, NOW
)


def lane(colour: Lane) -> AssignLane:
    return AssignLane(colour, OFFICER, NOW, out_of_hours=False)


def held(line_no: int, lot_number: str, quantity: int) -> HeldLot:
    return HeldLot(line_no=line_no, lot_number=lot_number, quantity=quantity)


def release(*lots: HeldLot) -> ReleaseGoods:
    return ReleaseGoods(lots or None, "", OFFICER, NOW, out_of_hours=False)


def hold(*lots: HeldLot, reason: HoldReason = HoldReason.INSPECTION) -> PlaceHold:
    return PlaceHold(reason, lots, "", OFFICER, NOW)


def refuse(*lots: HeldLot) -> RefuseGoods:
    return RefuseGoods(lots or None, RefusalOutcome.DESTRUCTION, "VVM stage 3", OFFICER, NOW)


def document(doc: Document, status: DocumentStatus = DocumentStatus.RECEIVED) -> RecordDocument:
    return RecordDocument(doc, status, "", OFFICER, NOW)


ALL_DOCUMENTS = tuple(document(d) for d in Document)
EXAMINE = RecordExamination(ExaminationPlace.COLD_STORE, True, "seals intact", OFFICER, NOW)


def run(*commands: Any) -> tuple[ClearanceCase, list[DomainEvent]]:
    events: list[DomainEvent] = []
    for command in commands:
        events += decider.decide(command, decider.fold(events))
    return decider.fold(events), events


def refusal(*commands: Any) -> DomainError:
    with pytest.raises(DomainError) as refused:
        run(*commands)
    assert refused.value.detail
    return refused.value


def released_units(events: list[DomainEvent]) -> dict[tuple[int, str], int]:
    total: dict[tuple[int, str], int] = {}
    for event in events:
        if isinstance(event, GoodsReleased | ClearedFastTrack):
            for key, quantity in units_of(event.lines).items():
                total[key] = total.get(key, 0) + quantity
    return total


# --- the declaration and the checklist -------------------------------------------------------


def test_a_declaration_may_be_lodged_before_arrival() -> None:
    state, _ = run(OPEN, DECLARE)
    assert state.declaration is not None and state.declaration.declaration_number == "104123456789"
    assert state.status is CaseStatus.AWAITING_ARRIVAL


@pytest.mark.parametrize(
    "number", ["10412345678", "1041234567890", "10412345678A", "１０４１２３４５６７８９"]
)
def test_a_declaration_number_has_exactly_twelve_digits(number: str) -> None:
    refused = refusal(OPEN, LodgeDeclaration(number, DeclarationType.FULL, None, "", OFFICER, NOW))
    assert isinstance(refused, InvalidInput) and refused.field == "declaration_number"


def test_a_provisional_declaration_carries_its_completion_deadline() -> None:
    without = LodgeDeclaration("104123456789", DeclarationType.PROVISIONAL, None, "", OFFICER, NOW)
    assert refusal(OPEN, without).field == "completion_deadline"
    deadline = NOW.date() + timedelta(days=30)
    state, _ = run(
        OPEN,
        LodgeDeclaration("104123456789", DeclarationType.PROVISIONAL, deadline, "", OFFICER, NOW),
    )
    assert state.declaration is not None and state.declaration.completion_deadline == deadline
    full = LodgeDeclaration("104123456789", DeclarationType.FULL, deadline, "", OFFICER, NOW)
    assert refusal(OPEN, full).code == "deadline-not-provisional"


def test_a_waiver_needs_a_reason() -> None:
    refused = refusal(OPEN, document(Document.INVOICE, DocumentStatus.WAIVED))
    assert isinstance(refused, InvalidInput) and refused.field == "reason"


def test_the_import_licence_is_only_on_the_checklist_of_vaccines_and_medicines() -> None:
    masks_only = OpenCase(SHIPMENT, "HAN", "Donor", CHANNEL, "738-2", NOW, (MASKS,))
    assert refusal(masks_only, document(Document.IMPORT_LICENCE)).code == "not-on-checklist"
    state, _ = run(OPEN, document(Document.IMPORT_LICENCE))
    assert Document.IMPORT_LICENCE in state.documents


# --- lanes ----------------------------------------------------------------------------------


def test_release_needs_a_declaration_and_a_lane() -> None:
    assert refusal(OPEN, PRESENT, release()).code == "no-declaration"
    assert refusal(OPEN, PRESENT, DECLARE, release()).code == "no-lane"


def test_green_lane_releases_on_the_documents_as_lodged() -> None:
    _, events = run(OPEN, PRESENT, DECLARE, lane(Lane.GREEN), release())
    released = events[-1]
    assert isinstance(released, GoodsReleased) and not released.partial
    assert sum(x.quantity for x in released.lines) == 1250


def test_yellow_lane_needs_every_document_received_or_waived() -> None:
    refused = refusal(OPEN, PRESENT, DECLARE, lane(Lane.YELLOW), *ALL_DOCUMENTS[:-1], release())
    assert isinstance(refused, StateConflict) and refused.code == "documents-missing"
    assert "import_licence" in refused.detail
    waived = RecordDocument(Document.IMPORT_LICENCE, DocumentStatus.WAIVED, "urgent", OFFICER, NOW)
    _, events = run(
        OPEN, PRESENT, DECLARE, lane(Lane.YELLOW), *ALL_DOCUMENTS[:-1], waived, release()
    )
    assert isinstance(events[-1], GoodsReleased)


def test_red_lane_needs_an_examination_before_release() -> None:
    refused = refusal(OPEN, PRESENT, DECLARE, lane(Lane.RED), release())
    assert isinstance(refused, StateConflict) and refused.code == "not-examined"
    _, events = run(OPEN, PRESENT, DECLARE, lane(Lane.RED), EXAMINE, release())
    assert isinstance(events[-1], GoodsReleased) and events[-1].lane is Lane.RED


def test_an_examination_needs_the_goods() -> None:
    assert refusal(OPEN, EXAMINE).code == "not-arrived"


# --- holds and partial release --------------------------------------------------------------


def test_a_red_lane_case_with_a_hold_released_in_two_parts() -> None:
    ready = (OPEN, PRESENT, DECLARE, lane(Lane.RED), EXAMINE)
    on_hold = hold(held(1, "A2", 300), reason=HoldReason.QUARANTINE)
    first = release(held(1, "A1", 500), held(2, "", 250))
    state, events = run(*ready, on_hold, first)
    assert isinstance(events[-1], GoodsReleased) and events[-1].partial
    assert events[-1].release_no == 1
    assert state.held((1, "A2")) == 300 and state.free((1, "A2")) == 0
    assert refusal(*ready, on_hold, first, release(held(1, "A2", 1))).code == "not-releasable"
    rest = run(*ready, on_hold, first, ReleaseHold("H1", "cleared", OFFICER, NOW), release())
    state, events = rest
    last = events[-1]
    assert isinstance(last, GoodsReleased) and last.release_no == 2 and not last.partial
    assert units_of(last.lines) == {(1, "A2"): 300, (1, "A3"): 200}
    assert state.status is CaseStatus.CLEARED
    assert released_units(events) == {(1, "A1"): 500, (1, "A2"): 300, (1, "A3"): 200, (2, ""): 250}


def test_a_hold_on_the_whole_case_stops_every_release_and_the_fast_track() -> None:
    ready = (OPEN, PRESENT, DECLARE, lane(Lane.GREEN), hold())
    refused = refusal(*ready, release())
    assert refused.code == "nothing-releasable" and "H1" in refused.detail
    fast = ClearFastTrack("104123456789", Lane.GREEN, Examination.NONE, "", NOW)
    assert refusal(*ready, fast).code == "hold-open"


def test_a_hold_cannot_cover_more_than_is_free() -> None:
    assert refusal(OPEN, PRESENT, hold(held(1, "A1", 501))).code == "not-holdable"
    assert isinstance(refusal(OPEN, PRESENT, hold(held(1, "ZZ", 1))), InvalidInput)


def test_a_hold_is_released_once_and_must_exist() -> None:
    assert isinstance(refusal(OPEN, PRESENT, ReleaseHold("H1", "", OFFICER, NOW)), NotFound)
    lift = ReleaseHold("H1", "", OFFICER, NOW)
    assert refusal(OPEN, PRESENT, hold(), lift, lift).code == "hold-released"


def test_fast_track_releases_only_what_is_neither_released_nor_refused() -> None:
    ready = (
        OPEN,
        PRESENT,
        DECLARE,
        lane(Lane.GREEN),
        release(held(1, "A1", 100)),
        refuse(held(1, "A2", 300)),
    )
    fast = ClearFastTrack("104123456789", Lane.GREEN, Examination.NONE, "", NOW)
    _, events = run(*ready, fast)
    cleared = events[-1]
    assert isinstance(cleared, ClearedFastTrack)
    assert units_of(cleared.lines) == {(1, "A1"): 400, (1, "A3"): 200, (2, ""): 250}


# --- refusal and closure --------------------------------------------------------------------


def test_refused_goods_are_never_released() -> None:
    state, events = run(
        OPEN, PRESENT, DECLARE, lane(Lane.GREEN), refuse(held(1, "A2", 300)), release()
    )
    assert isinstance(events[-2], GoodsRefused) and events[-2].outcome is RefusalOutcome.DESTRUCTION
    assert (1, "A2") not in released_units(events)
    assert state.ledger[(1, "A2")].refused == 300


def test_a_refusal_needs_a_reason() -> None:
    blank = RefuseGoods(None, RefusalOutcome.RE_EXPORT, "  ", OFFICER, NOW)
    assert refusal(OPEN, PRESENT, blank).field == "reason"


def test_a_cancelled_shipment_closes_the_case_once() -> None:
    cancel = CloseCase(CaseClosure.CANCELLED, NOW)
    state, events = run(OPEN, cancel, cancel)
    assert [type(e).__name__ for e in events] == ["ClearanceCaseOpened", "ClearanceCaseClosed"]
    assert state.status is CaseStatus.CLOSED and state.closure is CaseClosure.CANCELLED
    assert refusal(OPEN, cancel, DECLARE).code == "case-closed"


def test_nothing_to_clear_closes_the_case() -> None:
    nothing = CompleteArrivals(nothing_to_clear=True, now=NOW)
    _, events = run(OPEN, present((1, "A1", 0)), nothing, nothing)
    assert isinstance(events[-1], ClearanceCaseClosed)
    assert events[-1].closure is CaseClosure.NOTHING_TO_CLEAR and len(events) == 4


def test_the_case_completes_when_intake_has_closed_and_all_is_released() -> None:
    done = CompleteArrivals(nothing_to_clear=False, now=NOW)
    state, events = run(OPEN, PRESENT, done, DECLARE, lane(Lane.GREEN), release())
    assert (
        isinstance(events[-1], ClearanceCaseClosed) and events[-1].closure is CaseClosure.COMPLETED
    )
    state, events = run(OPEN, PRESENT, DECLARE, lane(Lane.GREEN), release(), done)
    assert isinstance(events[-1], ClearanceCaseClosed) and state.status is CaseStatus.CLOSED


# --- arrival parts and amendments -----------------------------------------------------------


def test_several_parts_add_up_and_a_redelivered_part_adds_nothing() -> None:
    first = present((1, "A1", 200), part=1)
    second = PresentGoods(
        NOW,
        received((1, "A1", 300), (1, "X9", 40)),
        2,
        (LotExpiry(line_no=1, lot_number="X9", expiry_date=date(2022, 1, 1)),),
    )
    state, events = run(OPEN, first, first, second, second, DECLARE, lane(Lane.GREEN), release())
    assert state.ledger[(1, "A1")].presented == 500 and state.parts == frozenset({1, 2})
    released = events[-1]
    assert isinstance(released, GoodsReleased)
    [vaccine] = released.lines
    assert [(x.lot_number, x.quantity, x.expiry_date) for x in vaccine.lots] == [
        ("A1", 500, VACCINE.lots[0].expiry_date),
        ("X9", 40, date(2022, 1, 1)),
    ]


def test_an_amendment_before_arrival_changes_the_expected_lines_once() -> None:
    amend = AmendCase(
        "COVAX", CHANNEL, "738-1", NOW, (MASKS,), "vaccine line moved to a later flight"
    )
    state, events = run(OPEN, amend, amend)
    assert state.lines == (MASKS,) and len(events) == 2
    _, events = run(OPEN, PRESENT, amend)
    assert len(events) == 2  # too late once the goods are here


# --- the clearance target -------------------------------------------------------------------

HOURS = OfficeHours.parse("Mon-Fri 07:30-16:30 Asia/Ho_Chi_Minh")


def test_out_of_hours_is_outside_the_office_hours_in_viet_nam_time() -> None:
    tuesday_8_local = datetime(2021, 8, 24, 1, 0, tzinfo=UTC)
    assert not HOURS.out_of_hours(tuesday_8_local)
    assert HOURS.out_of_hours(tuesday_8_local + timedelta(hours=10))  # 18:00
    assert HOURS.out_of_hours(datetime(2021, 8, 28, 3, 0, tzinfo=UTC))  # Saturday


def test_the_target_is_the_same_day_or_eight_working_hours_for_a_partial_examination() -> None:
    landed = datetime(2021, 8, 27, 0, 20, tzinfo=UTC)  # Friday 07:20 in Ha Noi
    assert clearance_target(landed, False, HOURS) == datetime(2021, 8, 27, 17, 0, tzinfo=UTC)
    # 07:30-16:30 Friday is 9 working hours, so 8 end at 15:30 the same day
    assert clearance_target(landed, True, HOURS) == datetime(2021, 8, 27, 8, 30, tzinfo=UTC)
    late = datetime(2021, 8, 27, 8, 0, tzinfo=UTC)  # Friday 15:00: 1.5 h today, 6.5 on Monday
    assert clearance_target(late, True, HOURS) == datetime(2021, 8, 30, 7, 0, tzinfo=UTC)


def test_office_hours_are_checked_when_read() -> None:
    with pytest.raises(InvalidInput):
        OfficeHours.parse("every day")
    with pytest.raises(InvalidInput):
        OfficeHours.parse("Mon-Fri 17:00-08:00 Asia/Ho_Chi_Minh")


# --- the per-lot balance, whatever officers do ----------------------------------------------

KEYS = [(1, "A1"), (1, "A2"), (1, "A3"), (2, "")]
lot_keys = st.sampled_from(KEYS)
quantities = st.integers(1, 600)
some_lots = st.lists(
    st.builds(lambda k, q: held(k[0], k[1], q), lot_keys, quantities), min_size=1, max_size=3
)
steps = st.one_of(
    st.builds(lambda lots: hold(*lots), some_lots),
    st.just(hold()),
    st.builds(lambda n: ReleaseHold(f"H{n}", "", OFFICER, NOW), st.integers(1, 4)),
    st.builds(lambda lots: release(*lots), some_lots),
    st.just(release()),
    st.builds(lambda lots: refuse(*lots), some_lots),
    st.just(refuse()),
    st.just(ClearFastTrack("104123456789", Lane.GREEN, Examination.NONE, "", NOW)),
    st.just(EXAMINE),
    st.builds(lambda n: present((1, "A1", n), part=2), st.integers(0, 100)),
)


@settings(max_examples=300)
@given(st.sampled_from([Lane.GREEN, Lane.RED]), st.lists(steps, max_size=12))
def test_released_held_refused_and_free_always_add_up_to_what_was_presented(
    colour: Lane, commands: list[Any]
) -> None:
    events: list[DomainEvent] = []
    for command in (OPEN, PRESENT, DECLARE, lane(colour), *commands):
        state = decider.fold(events)
        try:
            new = decider.decide(command, state)
        except DomainError:
            continue  # refused: nothing changes
        if isinstance(command, ReleaseGoods) and colour is Lane.RED:
            assert state.examination is not None  # red never releases unexamined
        for event in new:
            if isinstance(event, GoodsReleased):
                for key, quantity in units_of(event.lines).items():
                    assert quantity <= state.free(key)  # never what is held or refused
        events += new
    state = decider.fold(events)
    released = released_units(events)
    for key, balance in state.ledger.items():
        held_now, free_now = state.held(key), state.free(key)
        assert min(balance.released, balance.refused, held_now, free_now) >= 0
        assert balance.released + balance.refused + held_now + free_now == balance.presented
        assert released.get(key, 0) == balance.released <= balance.presented


# --- the consignment's priority -------------------------------------------------------------


def test_the_priority_is_carried_from_the_announcement_to_the_release() -> None:
    emergency = replace(OPEN, priority=Priority.EMERGENCY)
    state, events = run(emergency, PRESENT, DECLARE, lane(Lane.GREEN), release())
    assert state.priority is Priority.EMERGENCY
    [released] = [e for e in events if isinstance(e, GoodsReleased)]
    assert released.priority is Priority.EMERGENCY
    _, fast = run(
        emergency, PRESENT, ClearFastTrack("104000000001", Lane.GREEN, Examination.NONE, "", NOW)
    )
    [cleared] = [e for e in fast if isinstance(e, ClearedFastTrack)]
    assert cleared.priority is Priority.EMERGENCY


def test_an_amendment_may_raise_the_priority_and_one_without_it_keeps_it() -> None:
    same = AmendCase("COVAX", CHANNEL, "738-1", NOW, (VACCINE, MASKS), "outbreak in the north")
    state, events = run(OPEN, same)
    assert len(events) == 1 and state.priority is Priority.ROUTINE  # nothing changed
    raised = replace(same, priority=Priority.EMERGENCY)
    state, events = run(OPEN, raised, raised, same)
    assert len(events) == 2 and state.priority is Priority.EMERGENCY
