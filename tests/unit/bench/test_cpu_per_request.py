"""make bench's CPU rows: what a command costs across every process, and what it may cost."""

from __future__ import annotations

import os
from typing import Any

from bench.run import BARE_PHASES, cpu_per_request, table

RESULTS: dict[str, Any] = {
    "cpu_seconds": {
        "announce, 32 clients": {
            "wall": 10.0,
            "by_process": {"intake": 8.0, "postgres": 4.0, "kafka": 1.0, "client": 1.0},
        },
        BARE_PHASES["announce"]: {
            "wall": 10.0,
            "by_process": {"baseline": 4.0, "postgres": 2.0, "client": 2.0},
        },
    }
}


def test_cpu_seconds_are_shared_out_over_the_requests_of_the_phase() -> None:
    used = cpu_per_request(RESULTS, "announce, 32 clients", 4_000)
    assert used == {"intake": 2.0, "postgres": 1.0, "kafka": 0.25, "client": 0.25}
    assert cpu_per_request(RESULTS, "a phase not measured", 4_000) == {}
    assert cpu_per_request(RESULTS, "announce, 32 clients", 0) == {}


def test_the_table_sets_the_budget_at_the_target_beside_what_the_rest_uses() -> None:
    run = {"requests": 4_000, "per_second": 400.0, "p50_ms": 1, "p99_ms": 2}
    bare = {"requests": 20_000, "per_second": 2_000.0, "p50_ms": 1, "p99_ms": 2}
    bare |= {"client_cpu_cores": 0.2}
    command = {"closed_loop_32": run, "baseline_32": bare, "half_rate_open_loop": run}
    results = RESULTS | {
        "announce": command | {"ratio_to_baseline": 0.2},
        "fast_track": command | {"ratio_to_baseline": 0.2},
    }
    rows = [line for line in _table(results).splitlines() if "CPU" in line]
    budget = (os.cpu_count() or 1) * 1000 / (0.7 * 2_000)
    assert "3.50 ms" in rows[0] and "intake 2.0, postgres 1.0" in rows[0]
    assert "0.40 ms" in rows[1]  # 8 CPU-s over 20,000 bare requests
    assert f"{budget:.2f} ms" in rows[2] and "alone use 1.50" in rows[2]
    assert len(rows) == 3  # fast-track's phases were not measured: no rows for it


def _table(results: dict[str, Any]) -> str:
    """The whole table needs every section; the others are filled with zeros."""
    zero = {"events": 0, "events_per_s": 0, "seconds": 0, "executemany_rows_per_s": 0}
    latency = {"p50_ms": 0, "p95_ms": 0, "p99_ms": 0, "complete": 0, "consignments": 0}
    return table(
        results
        | {
            "client_ceiling": {"per_second": 0, "client_cpu_cores": 0},
            "catch_up": zero | {"ratio_to_executemany": 0, "messages": 0},
            "rebuild": zero,
            "rebuild_customs": zero,
            "fast_track_to_34_notices": {"50_per_s": latency},
            "rss_peak_mb": {},
        }
    )
