"""Rebuild a service's projections from its event store: ``python -m shared.rebuild intake``.

Runs beside the live service, the live tables locked against writers by one transaction
throughout: the store is read in pages of 10,000 events into fresh copies of the tables (by
two connections at once where the projections allow it, see ``shared.projections.rebuild``),
swapped in at the end; readers see the old tables until then, writers wait. The same is
reachable over HTTP as ``POST /admin/projections/rebuild``.
"""

from __future__ import annotations

import asyncio
import importlib
import sys

from shared.db import create_pool
from shared.eventstore import EventStore
from shared.projections import REBUILD_WORKERS, rebuild
from shared.runtime import ServiceSpec
from shared.settings import ALL_SERVICES, load_settings


async def rebuild_service(spec: ServiceSpec, database_url: str) -> int:
    pool = await create_pool(database_url, max_size=REBUILD_WORKERS + 1)
    try:
        if spec.rebuilder is not None:  # a read side: rebuilt from the events it consumed
            return await spec.rebuilder(pool)
        return await rebuild(pool, EventStore(spec.name), spec.projections)
    finally:
        await pool.close()


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in ALL_SERVICES:
        sys.exit(f"usage: python -m shared.rebuild {{{'|'.join(ALL_SERVICES)}}}")
    service = sys.argv[1]
    spec: ServiceSpec = importlib.import_module(f"services.{service}.main").SPEC
    replayed = asyncio.run(rebuild_service(spec, load_settings(service).database_url))
    print(f"{service}: projections rebuilt from {replayed} events")


if __name__ == "__main__":
    main()
