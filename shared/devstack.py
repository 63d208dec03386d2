"""``make run``: PostgreSQL, Kafka and the four services on one machine; Ctrl-C stops all.

A development stack: the services run with ``AIDPORT_ENV=development`` and the demo identity
provider, and a banner says so. Every child (each service, the broker, the PostgreSQL
postmaster) is supervised: one that dies is restarted with backoff while the others go on
serving (``shared/supervisor.py``); restarts are logged and counted in
``<data>/supervisor.json``.

Data lives under ``.data/`` (``AIDPORT_DATA_DIR``) and survives a restart, the JWT secret
included (``<data>/jwt-secret``, random, unless ``AIDPORT_JWT_SECRET`` is set). A
``<SERVICE>_DATABASE_URL`` or ``KAFKA_BOOTSTRAP_SERVERS`` in the environment points at an
existing server instead, which is then not supervised.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.auth import DEMO_PASSWORD, demo_users
from shared.infra import command_line, process_alive
from shared.reference_data import province_codes
from shared.settings import all_topics
from shared.supervisor import Child, Supervisor

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"intake": 8001, "customs": 8002, "allocation": 8003, "reporting": 8004}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Set explicitly: the services default to production, which refuses the demo identity provider.
DEVELOPMENT = {"AIDPORT_ENV": "development", "AIDPORT_DEMO_USERS": "true"}
WARNING = """\
WARNING: this is a DEVELOPMENT stack (AIDPORT_ENV=development) with demo logins that anyone
         who reaches these ports can use. Do not expose it or keep real data in it; deploy
         with docker-compose.yml or the image, with your own secrets and identity provider.
"""


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_service(
    name: str, port: int, env: Mapping[str, str], log_dir: Path, own_session: bool = False
) -> ServiceProcess:
    """``own_session``: a Ctrl-C in the terminal reaches the caller only, which stops it."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=ROOT,
            env={**os.environ, **env, f"{name.upper()}_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
        )
    return ServiceProcess(name, port, process)


def wait_ready(service: ServiceProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited with {service.process.returncode}")
        try:
            with urllib.request.urlopen(f"{service.url}/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{service.name} not ready after {timeout:.0f}s")


def service_env(database_urls: Mapping[str, str], bootstrap: str) -> dict[str, str]:
    """The environment of a development service: its database, the broker, development mode."""
    env = {f"{name.upper()}_DATABASE_URL": url for name, url in database_urls.items()}
    env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    return env | DEVELOPMENT


class SupervisedService:
    """One service process as the supervisor sees it (started again after it died)."""

    def __init__(self, name: str, port: int, env: Mapping[str, str], log_dir: Path) -> None:
        self.name, self.port, self.env, self.log_dir = name, port, env, log_dir
        self.service: ServiceProcess | None = None

    def start(self) -> None:
        self.service = start_service(self.name, self.port, self.env, self.log_dir, own_session=True)

    def alive(self) -> bool:
        return self.service is not None and self.service.process.poll() is None

    def pid(self) -> int | None:
        return self.service.process.pid if self.service is not None else None

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


def jwt_secret(data: Path) -> str:
    """``AIDPORT_JWT_SECRET``, or a random secret kept in the data folder (made once)."""
    if configured := os.environ.get("AIDPORT_JWT_SECRET"):
        return configured
    path = data / "jwt-secret"
    if not path.exists():
        data.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


@dataclass
class Infrastructure:
    database_urls: dict[str, str]
    bootstrap: str
    children: list[Child]  # the embedded servers, to supervise


@contextlib.contextmanager
def infrastructure(data: Path) -> Iterator[Infrastructure]:
    """PostgreSQL and Kafka, embedded unless the environment names external ones."""
    from shared.infra.kafka_broker import KafkaBroker, create_topics, ensure_kafka_jars
    from shared.infra.postgres import EmbeddedPostgres

    children: list[Child] = []
    with contextlib.ExitStack() as stack:
        urls = {n: os.environ.get(f"{n.upper()}_DATABASE_URL", "") for n in SERVICES}
        if not all(urls.values()):
            postgres = EmbeddedPostgres(data / "postgres")
            postgres.start()
            stack.callback(postgres.stop)
            children.append(Child("postgres", postgres))
            for name in SERVICES:
                if not urls[name]:
                    postgres.create_database(name)
                    urls[name] = postgres.database_url(name)
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if not bootstrap:
            broker = KafkaBroker(
                data_dir=data / "kafka",
                port=int(os.environ.get("KAFKA_PORT", 9092)),
                controller_port=int(os.environ.get("KAFKA_CONTROLLER_PORT", 9093)),
                libs_dir=ensure_kafka_jars(ROOT),
            )
            broker.start()
            stack.callback(broker.stop)
            children.append(Child("kafka", broker))
            bootstrap = broker.bootstrap_servers
        partitions = int(os.environ.get("AIDPORT_PARTITIONS", 6))
        prefix = os.environ.get("AIDPORT_TOPIC_PREFIX", "aidport")
        asyncio.run(create_topics(bootstrap, all_topics(prefix), partitions=partitions))
        yield Infrastructure(urls, bootstrap, children)


def stop_leftovers(data: Path, timeout: float = 20.0) -> None:
    """Stop what an earlier run on this data folder left running because it was killed
    before it could stop its children (kill -9, out of memory): its services and broker,
    found by the pids in its status file and recognised by their command lines, would keep
    the ports and the broker's folder. Its PostgreSQL is simply taken over."""
    try:
        status = json.loads((data / "supervisor.json").read_text())
    except (OSError, ValueError):
        return
    markers = {name: [f"services.{name}"] for name in SERVICES}
    markers["kafka"] = ["kafka.Kafka", str(data)]
    for name, marks in markers.items():
        pid = status.get(name, {}).get("pid")
        if isinstance(pid, int) and all(m in command_line(pid) for m in marks):
            _log(f"stopping {name} (pid {pid}), left running by an earlier run")
            _terminate(pid, timeout)


def _terminate(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if process_alive(pid):
            os.kill(pid, signal.SIGKILL)


def _print_banner(services: list[ServiceProcess], data: Path) -> None:
    print("\nAidPort is running (development):\n")
    for service in services:
        print(f"  {service.name:<11} {service.url}/   (API docs {service.url}/docs)")
    print(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    users = demo_users(province_codes())
    for sub, user in users.items():
        if not sub.startswith("province-") or sub in ("province-01", "province-79"):
            scope = " ".join(user.principal.scope) or "all"
            print(f"  {sub:<16} {user.principal.role.value:<20} {scope}")
    print("  province-XX      province_officer     one per province code (01 ... 96)")
    print(f"\n{WARNING}")
    print(f"A child that dies is restarted; counts in {data / 'supervisor.json'}.")
    print(f"Ctrl-C stops everything; data stays in {data}/\n", flush=True)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM and SIGHUP stop as cleanly as Ctrl-C


def _run_services(infra: Infrastructure, data: Path) -> Supervisor:
    """Start the services, wait until they are ready, then supervise everything until
    interrupted (KeyboardInterrupt); returns the supervisor for its counts."""
    env = service_env(infra.database_urls, infra.bootstrap)
    env["AIDPORT_JWT_SECRET"] = jwt_secret(data)
    ports = {n: int(os.environ.get(f"{n.upper()}_PORT", p)) for n, p in SERVICES.items()}
    services = [SupervisedService(n, ports[n], env, data / "logs") for n in SERVICES]
    supervisor = Supervisor(
        [*infra.children, *(Child(s.name, s) for s in services)],
        status_file=data / "supervisor.json",
        log=_log,
    )
    try:
        for service in services:
            service.start()
        for service in services:
            assert service.service is not None
            wait_ready(service.service)
        _print_banner([s.service for s in services if s.service is not None], data)
        supervisor.started()
        while True:
            supervisor.check()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
    finally:
        _ignore_interrupts()  # a second Ctrl-C must not cut the shutdown short
        for service in services:
            service.stop()
    return supervisor


def _ignore_interrupts() -> None:
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)


def main() -> None:
    data = Path(os.environ.get("AIDPORT_DATA_DIR", ROOT / ".data")).resolve()
    # Ctrl-C, SIGTERM and a closed terminal stop everything cleanly (the children run in
    # sessions of their own and get no signal from the terminal); SIGINT even where the
    # shell started us ignoring it.
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _interrupt)
    print(WARNING, flush=True)
    print("Starting PostgreSQL and Kafka ...", flush=True)
    try:
        stop_leftovers(data)
        with infrastructure(data) as infra:
            supervisor = _run_services(infra, data)
    except KeyboardInterrupt:  # while the infrastructure started: what did start is stopped
        print("\nStopped.", flush=True)
        return
    supervisor.stopped()
    counts = ", ".join(f"{name} {n}" for name, n in supervisor.restarts().items())
    print(f"Stopped. Restarts during this run: {counts}", flush=True)


if __name__ == "__main__":
    main()
