"""Projections: tables shaped for the screens and APIs that read them.

A projection is fed by the service's own events, in the same transaction as the append
(a reader sees its own writes at once). It is applied to a whole batch of recorded events
at a time: a ``SqlProjection`` runs one statement per event type over the batch's events,
read by position in SQL (no round trip, and no decoding, per event).

``rebuild`` replays the whole event store in large pages into FRESH tables (created
``LIKE`` the live ones, in a schema of their own, filled through temporary copies) and
swaps them in at the end, so readers keep the old tables until the swap; the result equals
the incrementally built one. Set-based projections get each page as positions grouped in
SQL (``apply_groups``), so no event passes through Python; those keyed alike are replayed
by several connections, a share of the keys each. Projections of whole streams
(``StreamProjection``) get the store read stream by stream, each stream once with all its
events.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any, ClassVar, Protocol, runtime_checkable

import asyncpg

from shared.db import Conn, without_statement_timeout
from shared.eventstore import EventStore, RecordedEvent

REBUILD_SCHEMA = "aidport_rebuild"
REBUILD_PAGE = 10_000  # events per page read from the store during a rebuild
# At most this many when the events are decoded into Python objects: 10,000 customs events
# held 64 MB more at the peak than at rest, 1,000 held 5 MB, at the same speed.
REBUILD_DECODED_PAGE = 1_000
REBUILD_WORKERS = 2  # connections replaying set-based projections at once (one per core)


class Projection(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> Sequence[str]:
        """The tables it owns: rebuilt as fresh copies."""
        ...

    async def apply(self, conn: Conn, event: RecordedEvent) -> None: ...


@runtime_checkable
class BatchProjection(Protocol):
    async def apply_batch(self, conn: Conn, events: Sequence[RecordedEvent]) -> None: ...


@dataclass(frozen=True)
class FoldedStream:
    """A stream as a unit of work leaves it: its state after its new events, and all its
    records (the new ones included), in order."""

    state: Any
    records: Sequence[RecordedEvent]


@runtime_checkable
class StreamProjection(Protocol):
    """A projection of whole streams, fed all the events of each stream at once. A
    rebuild then reads the store stream by stream and hands each stream over once."""

    async def apply_streams(
        self, conn: Conn, streams: Sequence[Sequence[RecordedEvent]]
    ) -> None: ...


@runtime_checkable
class FoldedProjection(Protocol):
    """A projection of whole streams' states. Fed the states a unit of work has folded
    already, it reads and decodes nothing; ``apply_batch`` stays for the other paths."""

    async def apply_folded(self, conn: Conn, streams: Sequence[FoldedStream]) -> None: ...


async def project(
    conn: Conn,
    projections: Iterable[Projection],
    events: Sequence[RecordedEvent],
    folded: Sequence[FoldedStream] | None = None,
) -> None:
    """Apply ``events`` (in position order) to each projection, set-based where it can;
    ``folded``, when given, holds the state of every stream that has events among them."""
    for projection in projections:
        if folded is not None and isinstance(projection, FoldedProjection):
            await projection.apply_folded(conn, folded)
        elif isinstance(projection, BatchProjection):
            await projection.apply_batch(conn, events)
        else:
            for event in events:
                await projection.apply(conn, event)


def generations(events: Sequence[Any], key: Callable[[Any], Hashable]) -> list[list[Any]]:
    """Split a batch so that no key occurs twice in a generation, order kept.

    Event ``i`` goes to generation ``n`` when ``n`` earlier events share its key. Rows with
    different keys are independent, so a generation may be applied in any order (e.g. one
    ``executemany`` per statement) and the generations one after the other: the result
    equals applying the events one by one."""
    seen: dict[Hashable, int] = defaultdict(int)
    result: list[list[Any]] = []
    for event in events:
        k = key(event)
        n = seen[k]
        seen[k] = n + 1
        if n == len(result):
            result.append([])
        result[n].append(event)
    return result


class EventRef(Protocol):
    """What a set-based projection needs of an event: the rest is read in SQL."""

    @property
    def position(self) -> int: ...

    @property
    def event_type(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...


class SqlProjection:
    """A projection whose statements read the events themselves, by position, in SQL.

    ``statements`` maps an event type to one statement over ``events`` rows whose
    positions are ``$1::bigint[]`` (cast JSON fields to their column types there); rows
    are keyed by the ``key_field`` of the event's data. A batch costs one statement per
    generation and type, however many events it holds, and no event is decoded in
    Python. ``after_batch`` may add one statement per batch (e.g. a coalesced NOTIFY).
    Event types with an upcaster must not be projected this way (SQL sees stored data)."""

    name: str
    tables: Sequence[str]
    statements: ClassVar[dict[str, str]]
    key_field: ClassVar[str]

    async def after_batch(self, conn: Conn, positions: Sequence[int]) -> None:
        return None

    async def apply(self, conn: Conn, event: RecordedEvent) -> None:
        await self.apply_batch(conn, [event])

    async def apply_batch(self, conn: Conn, events: Sequence[EventRef]) -> None:
        mine = [e for e in events if e.event_type in self.statements]
        groups: list[tuple[str, list[int]]] = []
        for generation in generations(mine, lambda e: e.data.get(self.key_field)):
            by_type: dict[str, list[int]] = defaultdict(list)
            for event in generation:
                by_type[event.event_type].append(event.position)
            groups.extend(by_type.items())
        await self.apply_groups(conn, groups)

    async def apply_groups(self, conn: Conn, groups: Sequence[tuple[str, Sequence[int]]]) -> None:
        """Apply events given as (type, positions) groups, generation after generation
        (see ``generations``): one statement per group of a type this projection takes."""
        mine = [(event_type, p) for event_type, p in groups if event_type in self.statements]
        for event_type, positions in mine:
            await conn.execute(self.statements[event_type], positions)
        if mine:
            await self.after_batch(conn, [p for _, positions in mine for p in positions])


# -- rebuild -------------------------------------------------------------------------


async def rebuild(
    pool: asyncpg.Pool,
    store: EventStore,
    projections: Sequence[Projection],
    page: int = REBUILD_PAGE,
    workers: int = REBUILD_WORKERS,
) -> int:
    """Rebuild from scratch into fresh tables and swap them in; returns the events replayed.

    The live tables are locked in SHARE ROW EXCLUSIVE mode for the whole rebuild, so
    readers go on reading them while writers (and a second rebuild) wait: an event
    committed during the rebuild would otherwise be missing from the fresh tables. The
    fresh tables live in ``REBUILD_SCHEMA``, first on the search path, so the projections'
    unqualified SQL writes to them; at the end the old tables are dropped and the fresh
    ones moved into place with their index names.

    Set-based projections keyed by one field are filled by ``workers`` connections at once,
    each replaying the events of its share of the keys (rows of different keys are
    independent, see ``SqlProjection``); other projections in the locking transaction."""
    tables = [t for p in projections for t in p.tables]
    workers = min(workers, pool.get_max_size() - 1)  # one connection holds the lock
    async with pool.acquire() as conn, conn.transaction():
        await without_statement_timeout(conn)
        if tables:
            await conn.execute(f"LOCK TABLE {', '.join(tables)} IN SHARE ROW EXCLUSIVE MODE")
        if workers < 2 or not _keyed_alike(projections):
            deferred = await _create_fresh_tables(conn, tables)
            replayed = await _replay(conn, store, projections, page)
        else:
            replayed, deferred = await _replay_in_parts(pool, store, projections, page, workers)
        for index in deferred:  # built once over the whole table, not row by row
            await conn.execute(index)
        await _swap_in(conn, tables)
    return replayed


def _keyed_alike(projections: Sequence[Projection]) -> bool:
    """Every projection set-based, and all keyed by the same field of the events."""
    keys = {p.key_field if isinstance(p, SqlProjection) else None for p in projections}
    return len(keys) == 1 and None not in keys


async def _replay(
    conn: Conn,
    store: EventStore,
    projections: Sequence[Projection],
    page: int,
    part: tuple[int, int] | None = None,
) -> int:
    """Project every event (of ``part``: (index, count) of the keys) in position order."""
    await conn.execute(f"SET LOCAL search_path = {REBUILD_SCHEMA}, public")
    tables = [t for p in projections for t in p.tables]
    await _stage(conn, tables)
    set_based = [p for p in projections if isinstance(p, SqlProjection)]
    by_stream = [p for p in projections if isinstance(p, StreamProjection)]
    if set_based and len(set_based) == len(projections):
        replayed = await _replay_grouped(conn, set_based, page, part)
    elif by_stream and len(by_stream) == len(projections):
        replayed = await _replay_by_stream(conn, store, by_stream, min(page, REBUILD_DECODED_PAGE))
    else:
        replayed = await _replay_decoded(conn, store, projections, min(page, REBUILD_DECODED_PAGE))
    await _unstage(conn, tables)
    return replayed


async def _replay_decoded(
    conn: Conn, store: EventStore, projections: Sequence[Projection], page: int
) -> int:
    replayed = position = 0
    while events := await store.read_all(conn, after=position, limit=page):
        await project(conn, projections, events)
        position = events[-1].position
        replayed += len(events)
    return replayed


async def _replay_by_stream(
    conn: Conn, store: EventStore, projections: Sequence[StreamProjection], page: int
) -> int:
    """Stream by stream: each event read once, each stream applied once with all its events
    (a page's last stream waits for the rest of its events on the next page)."""
    replayed = 0
    after: tuple[str, int] | None = None
    pending: list[RecordedEvent] = []
    while events := await store.read_streams(conn, after, page):
        after = (events[-1].stream_id, events[-1].stream_version)
        streams = [list(s) for _, s in groupby([*pending, *events], lambda e: e.stream_id)]
        pending = streams.pop()
        replayed += await _apply_streams(conn, projections, streams)
    return replayed + await _apply_streams(conn, projections, [pending] if pending else [])


async def _apply_streams(
    conn: Conn, projections: Sequence[StreamProjection], streams: list[list[RecordedEvent]]
) -> int:
    if streams:
        for projection in projections:
            await projection.apply_streams(conn, streams)
    return sum(len(s) for s in streams)


async def _replay_grouped(
    conn: Conn, projections: Sequence[SqlProjection], page: int, part: tuple[int, int] | None
) -> int:
    """Set-based projections take a page as the positions of its events grouped in SQL,
    so that no event passes through Python."""
    keys = sorted({p.key_field for p in projections})
    replayed = position = 0
    while groups := await _grouped_page(conn, keys, position, page, part):
        for projection in projections:
            await projection.apply_groups(conn, groups[projection.key_field])
        first_key = groups[keys[0]]  # every event of the page once
        replayed += sum(len(positions) for _, positions in first_key)
        position = max(positions[-1] for _, positions in first_key)
    return replayed


async def _stage(conn: Conn, tables: Sequence[str]) -> None:
    """Temporary copies of the fresh tables, which the projections' unqualified SQL then
    writes to (``pg_temp`` comes first on the search path). A row is inserted, then
    rewritten by each later event of its key: in a temporary table that writes no WAL and
    takes no shared buffers, and the fresh table gets each row once, in ``_unstage``."""
    for table in tables:
        await conn.execute(
            f"CREATE TEMP TABLE {table} (LIKE {REBUILD_SCHEMA}.{table} INCLUDING ALL)"
            " ON COMMIT DROP"
        )


async def _unstage(conn: Conn, tables: Sequence[str]) -> None:
    for table in tables:
        await conn.execute(f"INSERT INTO {REBUILD_SCHEMA}.{table} SELECT * FROM pg_temp.{table}")
        await conn.execute(f"DROP TABLE pg_temp.{table}")


async def _replay_in_parts(
    pool: asyncpg.Pool,
    store: EventStore,
    projections: Sequence[Projection],
    page: int,
    workers: int,
) -> tuple[int, list[str]]:
    """Fresh tables committed in ``REBUILD_SCHEMA`` (invisible to the services, whose
    search path is ``public``), filled by ``workers`` transactions at once; dropped again
    if one fails. Returns the events replayed and the deferred indexes."""
    async with pool.acquire() as conn:
        deferred = await _create_fresh_tables(conn, [t for p in projections for t in p.tables])

    async def replay_part(index: int) -> int:
        async with pool.acquire() as conn, conn.transaction():
            await without_statement_timeout(conn)
            return await _replay(conn, store, projections, page, (index, workers))

    parts = [asyncio.create_task(replay_part(i)) for i in range(workers)]
    try:
        return sum(await asyncio.gather(*parts)), deferred
    except BaseException:
        for part in parts:
            part.cancel()
        await asyncio.gather(*parts, return_exceptions=True)
        await pool.execute(f"DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE")
        raise


def _part_of(key: str, parts: int) -> str:
    """SQL: the part (0 to parts - 1) of an event, by its key (an absent key counts as '')."""
    return f"(hashtext(coalesce(data->>'{key}', '')) & 2147483647) % {parts}"


async def _grouped_page(
    conn: Conn, keys: Sequence[str], after: int, limit: int, part: tuple[int, int] | None
) -> dict[str, list[tuple[str, list[int]]]]:
    """The next page of events (of ``part``: (index, count), by the first key's hash), as
    ``apply_groups`` takes it for each key field: positions by generation and type, in
    generation order; empty at the end of the store. The generations are counted in SQL,
    each event's number among the page's earlier events of its key (see ``generations``)."""
    mine = "" if part is None else f" AND {_part_of(keys[0], part[1])} = {part[0]}"
    fields = ", ".join(f"data->>'{key}' AS k{i}" for i, key in enumerate(keys))
    per_key = " UNION ALL ".join(
        f"""SELECT {i} AS key, generation, event_type, min(position) AS first,
                   array_agg(position ORDER BY position) AS positions
            FROM (SELECT position, event_type,
                         row_number() OVER (PARTITION BY k{i} ORDER BY position) AS generation
                  FROM page) AS numbered
            GROUP BY generation, event_type"""
        for i in range(len(keys))
    )
    rows = await conn.fetch(
        f"""WITH page AS MATERIALIZED (
                SELECT position, event_type, {fields} FROM events
                WHERE position > $1{mine} ORDER BY position LIMIT $2)
            {per_key}
            ORDER BY key, generation, first""",
        after,
        limit,
    )
    if not rows:
        return {}
    groups: dict[str, list[tuple[str, list[int]]]] = {key: [] for key in keys}
    for row in rows:
        groups[keys[row["key"]]].append((row["event_type"], row["positions"]))
    return groups


async def _create_fresh_tables(conn: Conn, tables: Sequence[str]) -> list[str]:
    """Fresh empty copies with their unique indexes (the projections' lookups and ON
    CONFLICT need them); returns the statements that create the other indexes, deferred
    until the tables are filled."""
    await conn.execute(f"DROP SCHEMA IF EXISTS {REBUILD_SCHEMA} CASCADE")
    await conn.execute(f"CREATE SCHEMA {REBUILD_SCHEMA}")
    deferred = []
    for table in tables:
        await conn.execute(
            f"CREATE TABLE {REBUILD_SCHEMA}.{table}"
            f" (LIKE public.{table} INCLUDING ALL EXCLUDING INDEXES)"
        )
        rows = await conn.fetch(
            """SELECT pg_get_constraintdef(k.oid) AS constraint_definition,
                      pg_get_indexdef(i.indexrelid) AS definition, i.indisunique AS is_unique
               FROM pg_index i LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid
               WHERE i.indrelid = format('public.%I', $1::text)::regclass
               ORDER BY i.indexrelid""",
            table,
        )
        for row in rows:
            fresh = f"{REBUILD_SCHEMA}.{table}"
            if row["constraint_definition"]:  # a primary key or unique constraint
                statement = f"ALTER TABLE {fresh} ADD {row['constraint_definition']}"
            else:
                unique = "UNIQUE " if row["is_unique"] else ""
                using = row["definition"].split(" USING ", 1)[1]
                statement = f"CREATE {unique}INDEX ON {fresh} USING {using}"
            if row["is_unique"]:
                await conn.execute(statement)
            else:
                deferred.append(statement)
    return deferred


async def _swap_in(conn: Conn, tables: Sequence[str]) -> None:
    await conn.execute("SET LOCAL search_path = public")
    for table in tables:
        names = await _index_names(conn, "public", table)
        await conn.execute(f"DROP TABLE public.{table}")
        await conn.execute(f"ALTER TABLE {REBUILD_SCHEMA}.{table} SET SCHEMA public")
        for definition, fresh_name in (await _index_names(conn, "public", table)).items():
            old_name = names.get(definition)
            if old_name and old_name != fresh_name:
                await conn.execute(f'ALTER INDEX public."{fresh_name}" RENAME TO "{old_name}"')
    await conn.execute(f"DROP SCHEMA {REBUILD_SCHEMA}")


async def _index_names(conn: Conn, schema: str, table: str) -> dict[str, str]:
    """Index name by its definition without the name (``USING btree (a, b) WHERE ...``)."""
    rows = await conn.fetch(
        """SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass""",
        schema,
        table,
    )
    return {r["definition"].split(" USING ", 1)[1]: r["name"] for r in rows}
