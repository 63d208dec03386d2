"""The supervisor's rules, with fake children and a fake clock."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from shared.supervisor import FIRST_DELAY, MAX_DELAY, Child, Supervisor, backoff_delay


@dataclass
class FakeProcess:
    running: bool = True
    starts: int = 0
    stops: int = 0
    fail_starts: int = 0  # this many next starts raise
    next_pid: int = 100

    def start(self) -> None:
        self.starts += 1
        if self.fail_starts:
            self.fail_starts -= 1
            raise RuntimeError("port in use\nmore detail")
        self.running = True
        self.next_pid += 1

    def alive(self) -> bool:
        return self.running

    def pid(self) -> int | None:
        return self.next_pid if self.running else None

    def stop(self) -> None:
        self.stops += 1


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def supervise(
    tmp_path: Path | None = None, **processes: FakeProcess
) -> tuple[Supervisor, Clock, list[str]]:
    clock, lines = Clock(), []
    status = tmp_path / "supervisor.json" if tmp_path else None
    children = [Child(name, process) for name, process in processes.items()]
    supervisor = Supervisor(children, status_file=status, log=lines.append, clock=clock)
    supervisor.started()
    return supervisor, clock, lines


@given(st.integers(min_value=0, max_value=10_000))
def test_the_backoff_doubles_up_to_its_cap(failures: int) -> None:
    delay = backoff_delay(failures)
    assert FIRST_DELAY <= delay <= MAX_DELAY
    assert delay == min(MAX_DELAY, FIRST_DELAY * 2**failures) if failures < 64 else MAX_DELAY
    assert backoff_delay(failures + 1) >= delay


def test_a_dead_child_is_restarted_after_the_first_delay_and_the_others_are_left_alone() -> None:
    service, broker = FakeProcess(), FakeProcess()
    supervisor, clock, lines = supervise(service=service, broker=broker)
    service.running = False
    supervisor.check()
    assert service.starts == 0 and lines == ["service died; restart #1 in 0.5s"]
    clock.now += FIRST_DELAY
    supervisor.check()
    assert service.running and service.starts == 1 and service.stops == 1
    assert lines[-1].startswith("service restarted (restart #1, down 0.5s")
    assert broker.starts == broker.stops == 0
    assert supervisor.restarts() == {"service": 1, "broker": 0}


def test_repeated_deaths_back_off_exponentially_then_reset_after_a_stable_period() -> None:
    service = FakeProcess()
    supervisor, clock, _ = supervise(service=service)
    delays = []
    for _ in range(8):
        service.running = False
        supervisor.check()
        child = supervisor.children[0]
        delays.append(child.next_try - clock.now)
        clock.now = child.next_try
        supervisor.check()
        assert service.running
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]

    clock.now += supervisor.stable_after
    supervisor.check()  # stayed up long enough: the next death is restarted quickly again
    service.running = False
    supervisor.check()
    assert supervisor.children[0].next_try - clock.now == FIRST_DELAY
    assert supervisor.restarts() == {"service": 8}


def test_a_start_that_fails_is_tried_again_later_and_counted() -> None:
    broker = FakeProcess(fail_starts=2)
    supervisor, clock, lines = supervise(broker=broker)
    broker.running = False
    supervisor.check()
    for expected_delay in (1.0, 2.0):
        clock.now = supervisor.children[0].next_try
        supervisor.check()
        assert not broker.running
        assert lines[-1].endswith(f"failed (port in use); next try in {expected_delay:.1f}s")
    clock.now = supervisor.children[0].next_try
    supervisor.check()
    assert broker.running and broker.starts == 3
    assert supervisor.restarts() == {"broker": 3}


def test_the_status_file_shows_each_child_with_its_pid_and_restarts(tmp_path: Path) -> None:
    service = FakeProcess()
    supervisor, clock, _ = supervise(tmp_path, service=service, broker=FakeProcess())
    service.running = False
    supervisor.check()
    status = json.loads((tmp_path / "supervisor.json").read_text())
    assert status["service"] == {"state": "down", "pid": None, "restarts": 0}
    clock.now += FIRST_DELAY
    supervisor.check()
    status = json.loads((tmp_path / "supervisor.json").read_text())
    assert status == {
        "service": {"state": "running", "pid": 101, "restarts": 1},
        "broker": {"state": "running", "pid": 100, "restarts": 0},
    }
    supervisor.stopped()
    status = json.loads((tmp_path / "supervisor.json").read_text())
    assert {child["state"] for child in status.values()} == {"stopped"}
    assert status["service"]["restarts"] == 1
