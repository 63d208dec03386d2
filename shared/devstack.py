"""``make run``: PostgreSQL, Kafka and the three services on one machine; Ctrl-C stops all.

Data lives under ``.data/`` and survives a restart. A ``<SERVICE>_DATABASE_URL`` or
``KAFKA_BOOTSTRAP_SERVERS`` in the environment points at an existing server instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.auth import DEMO_PASSWORD, demo_users
from shared.reference_data import province_codes
from shared.settings import all_topics

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"intake": 8001, "customs": 8002, "allocation": 8003}


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


def start_service(name: str, port: int, env: Mapping[str, str], log_dir: Path) -> ServiceProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = (log_dir / f"{name}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{name}"],
        cwd=ROOT,
        env={**os.environ, **env, f"{name.upper()}_PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
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
    env = {f"{name.upper()}_DATABASE_URL": url for name, url in database_urls.items()}
    env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    return env


@contextlib.contextmanager
def infrastructure(data: Path) -> Iterator[tuple[dict[str, str], str]]:
    """PostgreSQL and Kafka, embedded unless the environment names external ones."""
    from shared.infra.kafka_broker import KafkaBroker, create_topics, ensure_kafka_jars
    from shared.infra.postgres import EmbeddedPostgres

    with contextlib.ExitStack() as stack:
        urls = {n: os.environ.get(f"{n.upper()}_DATABASE_URL", "") for n in SERVICES}
        if not all(urls.values()):
            postgres = EmbeddedPostgres(data / "postgres")
            postgres.start()
            stack.callback(postgres.stop)
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
            bootstrap = broker.bootstrap_servers
        partitions = int(os.environ.get("AIDPORT_PARTITIONS", 6))
        prefix = os.environ.get("AIDPORT_TOPIC_PREFIX", "aidport")
        asyncio.run(create_topics(bootstrap, all_topics(prefix), partitions=partitions))
        yield urls, bootstrap


def _print_banner(services: list[ServiceProcess]) -> None:
    print("\nAidPort is running:\n")
    for service in services:
        print(f"  {service.name:<11} {service.url}/   (API docs {service.url}/docs)")
    print(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    users = demo_users(province_codes())
    for sub, user in users.items():
        if not sub.startswith("province-") or sub in ("province-01", "province-79"):
            scope = " ".join(user.principal.scope) or "all"
            print(f"  {sub:<16} {user.principal.role.value:<20} {scope}")
    print("  province-XX      province_officer     one per province code (01 ... 96)")
    print("\nCtrl-C stops everything; data stays in .data/\n", flush=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops as cleanly as Ctrl-C


def main() -> None:
    data = Path(os.environ.get("AIDPORT_DATA_DIR", ROOT / ".data"))
    signal.signal(signal.SIGTERM, _interrupt)
    print("Starting PostgreSQL and Kafka ...", flush=True)
    with infrastructure(data) as (urls, bootstrap):
        env = service_env(urls, bootstrap)
        ports = {n: int(os.environ.get(f"{n.upper()}_PORT", p)) for n, p in SERVICES.items()}
        services = [start_service(n, ports[n], env, data / "logs") for n in SERVICES]
        try:
            for service in services:
                wait_ready(service)
            _print_banner(services)
            while all(s.process.poll() is None for s in services):
                time.sleep(1)
            print("a service stopped; see .data/logs/", file=sys.stderr)
        except KeyboardInterrupt:
            print("\nStopping ...", flush=True)
        finally:
            for service in services:
                service.stop()


if __name__ == "__main__":
    main()
