"""The ``clearance_cases`` table: the customs queue, the case page and the case API.

A case's row is its folded state: for each case touched by a batch, the projection loads
the case's events (in the same transaction) and writes the whole row. The rules that say
what is held, free or cleared therefore live once, in the domain, and the row can never
disagree with them. It costs one read of the batch's streams, except where the state is
folded already: a command's handler and a consumer's unit of work hand it over (``apply_folded``),
or where a rebuild hands over whole cases (``apply_streams``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.customs import domain
from services.customs.domain import ClearanceCase
from shared.contracts.customs import ClearedFastTrack, Document, Examination, GoodsReleased
from shared.contracts.values import Storage
from shared.db import Conn, to_json
from shared.eventstore import EventStore, RecordedEvent
from shared.projections import FoldedStream

COLUMNS = (
    "shipment_id", "airport", "donor", "channel", "airway_bill", "expected_arrival", "status",
    "lines", "received", "opened_at", "arrived_at", "cleared_at", "cleared_by",
    "declaration_number", "lane", "examination", "remarks", "cleared_lines", "last_position",
    "closure", "closed_at", "cold_chain", "nearest_expiry", "partial_examination",
    "out_of_hours", "open_holds", "clock_stopped_at", "presented_total", "released_total",
    "refused_total", "held_total", "detail", "priority", "priority_rank",
)  # fmt: skip
JSON_COLUMNS = {"lines", "received", "cleared_lines", "detail"}
_JSON_AT = tuple(i for i, c in enumerate(COLUMNS) if c in JSON_COLUMNS)
_RELEASING = frozenset({GoodsReleased.event_type, ClearedFastTrack.event_type})
UPSERT = (
    f"INSERT INTO clearance_cases ({', '.join(COLUMNS)}) VALUES ("
    + ", ".join(
        f"${i + 1}" + ("::jsonb" if c in JSON_COLUMNS else "") for i, c in enumerate(COLUMNS)
    )
    + ") ON CONFLICT (shipment_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
)


class ClearanceCasesProjection:
    name = "clearance_cases"
    tables = ("clearance_cases",)

    def __init__(self, store: EventStore | None = None) -> None:
        self.store = store or EventStore("customs")

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        await self.apply_batch(conn, [event])

    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None:
        """All the batch's cases: one read of their streams, one executemany of their rows."""
        streams = await self.store.load_many(conn, list(dict.fromkeys(e.stream_id for e in events)))
        await self.apply_streams(conn, list(streams.values()))

    async def apply_streams(self, conn: Conn, streams: Sequence[Sequence[RecordedEvent]]) -> None:
        """Cases from all their events (what a rebuild hands over, stream by stream)."""
        await self.apply_folded(
            conn, [FoldedStream(domain.decider.fold(r.decode() for r in s), s) for s in streams]
        )

    async def apply_folded(self, conn: Conn, streams: Sequence[FoldedStream]) -> None:
        rows = [case_row(s.state, s.records) for s in streams if s.state.opened is not None]
        if rows:
            await conn.executemany(UPSERT, [_params(row) for row in rows])


def _params(row: dict[str, Any]) -> list[Any]:
    """The row as UPSERT's parameters, its JSON columns encoded."""
    values = [row[c] for c in COLUMNS]
    for i in _JSON_AT:
        if values[i] is not None:
            values[i] = to_json(values[i])
    return values


def case_row(state: ClearanceCase, records: Sequence[RecordedEvent]) -> dict[str, Any]:
    assert state.opened is not None
    case = state.opened
    released = next((r for r in reversed(records) if r.event_type in _RELEASING), None)
    declaration = state.declaration.declaration_number if state.declaration else None
    fast = state.fast_track
    open_holds = state.open_holds()
    released_units = {k: b.released for k, b in state.ledger.items()}
    return {
        "shipment_id": case.shipment_id,
        "airport": case.airport,
        "donor": case.donor,
        "channel": case.channel.value,
        "airway_bill": case.airway_bill,
        "expected_arrival": case.expected_arrival,
        "status": state.status,
        "priority": state.priority.value,
        "priority_rank": state.priority.rank,
        "lines": [line.model_dump(mode="json") for line in state.lines],
        "received": [
            {"line_no": k[0], "lot_number": k[1], "quantity": b.presented}
            for k, b in state.ledger.items()
        ]
        if state.parts
        else None,
        "opened_at": records[0].recorded_at,
        "arrived_at": state.arrived_at,
        "cleared_at": state.cleared_at,
        "cleared_by": released.metadata.get("actor") if released else None,
        "declaration_number": fast.declaration_number if fast else declaration,
        "lane": (fast.lane if fast else state.lane.lane if state.lane else None),
        "examination": _examination(state),
        "remarks": fast.remarks if fast else None,
        "cleared_lines": [x.model_dump(mode="json") for x in domain.lines_of(state, released_units)]
        if state.released_total
        else None,
        "last_position": records[-1].position,
        "closure": state.closure,
        "closed_at": state.closed_at,
        "cold_chain": any(line.storage is not Storage.AMBIENT for line in state.lines),
        "nearest_expiry": domain.nearest_expiry(state),
        "partial_examination": bool(state.examination and state.examination.partial),
        "out_of_hours": bool(state.lane and state.lane.out_of_hours),
        "open_holds": len(open_holds),
        "clock_stopped_at": min((h.event.placed_at for h in open_holds), default=None),
        "presented_total": state.presented_total,
        "released_total": state.released_total,
        "refused_total": sum(b.refused for b in state.ledger.values()),
        "held_total": sum(state.held(k) for k in state.ledger),
        "detail": detail(state),
    }


def _examination(state: ClearanceCase) -> str | None:
    if state.fast_track:
        return state.fast_track.examination.value
    return Examination.PHYSICAL.value if state.examination else None


def _document(state: ClearanceCase, document: Document) -> dict[str, Any]:
    """A line of the checklist: as recorded, or not yet recorded."""
    line = {"document": str(document), "required": True, "status": None, "reason": ""}
    recorded = state.documents.get(document)
    return line if recorded is None else line | recorded.model_dump(mode="json")


def detail(state: ClearanceCase) -> dict[str, Any]:
    """The case page's content: papers, holds, examination and the balance of every lot."""
    products = {line.line_no: line.product for line in state.lines}
    return {
        "declaration": state.declaration.model_dump(mode="json") if state.declaration else None,
        "documents": [_document(state, d) for d in domain.required_documents(state)],
        "missing_documents": [str(d) for d in domain.missing_documents(state)],
        "permits": [p.model_dump(mode="json") for p in state.permits.values()],
        "lane": state.lane.model_dump(mode="json") if state.lane else None,
        "examination": state.examination.model_dump(mode="json") if state.examination else None,
        "holds": [
            h.event.model_dump(mode="json")
            | {
                "open": h.open,
                "released_by": h.released.released_by if h.released else None,
                "released_at": h.released.released_at.isoformat() if h.released else None,
            }
            for h in state.holds
        ],
        "lots": [
            {
                "line_no": k[0],
                "lot_number": k[1],
                "product": products.get(k[0], ""),
                "presented": b.presented,
                "released": b.released,
                "refused": b.refused,
                "held": state.held(k),
                "free": state.free(k),
            }
            for k, b in sorted(state.ledger.items())
        ],
        "parts": sorted(state.parts),
        "releases": state.releases,
        "arrivals_completed": state.arrivals_completed,
    }
