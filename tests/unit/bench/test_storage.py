"""The bench's disk flush probe: what it reports over a window, and that it flushes."""

from __future__ import annotations

import time
from pathlib import Path

from bench.storage import FsyncProbe


def test_a_window_counts_only_the_flushes_begun_in_it(tmp_path: Path) -> None:
    probe = FsyncProbe(tmp_path)
    probe.samples = [(1.0, 0.001), (2.0, 0.002), (2.5, 0.250), (3.0, 0.004), (9.0, 1.0)]

    window = probe.between(2.0, 3.0)

    assert window == {
        "flushes": 3,
        "p50_ms": 4.0,
        "p99_ms": 250.0,
        "max_ms": 250.0,
        "stalls_over_100_ms": 1,
    }
    assert probe.between(4.0, 5.0) == {"flushes": 0}


def test_the_probe_flushes_a_file_beside_the_data_until_stopped(tmp_path: Path) -> None:
    probe = FsyncProbe(tmp_path, every=0.001)
    probe.start()
    deadline = time.monotonic() + 10
    while len(probe.samples) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    probe.stop()

    assert len(probe.samples) >= 3
    assert (tmp_path / "fsync-probe.dat").stat().st_size == 8 * 1024 * 1024
    assert probe.between(0.0, time.perf_counter())["flushes"] == len(probe.samples)
