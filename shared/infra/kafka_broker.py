"""A real Apache Kafka broker (4.1.1, KRaft, single node) started from the Maven Central jars.

``make kafka-jars`` (or ``ensure_kafka_jars``) copies the broker's runtime dependencies into
``.cache/kafka/libs``. The broker runs as ``java ... kafka.Kafka server.properties`` in a
process group of its own, with the properties rendered from ``deploy/kafka/server.properties``
into its data folder. The storage is formatted once per data folder (``meta.properties``), so
topics, offsets and committed group offsets survive a restart. ``start()`` returns only once the
broker answers a metadata request with the cluster id written at format time (an unrelated
broker on the same port cannot pass for ours).

Measured on the project machine (2 cores, OpenJDK 17, Kafka 4.1.1, 512 MiB heap), from launch
to serving: 3.6 to 4.4 s on a fresh data folder (format included), 2.8 to 3.5 s on a restart
with data, up to about 6 s while other JVMs share the two cores; ``stop()`` (SIGTERM, a
controlled shutdown) takes about 0.5 s. With the JVM's client compiler only (C1, see
``_java``), the launch takes about a second less (5.0-5.2 s fresh, 3.6-3.8 s on a restart, on
a machine where the default took 6.3-6.7 and 4.3), and over ``make bench``'s main phases
the broker used about half the CPU (announce 1.5 CPU-s instead of 2.6, the catch-up 2.5
instead of 5.2, fast-track 1.5 instead of 3.1), the compiler threads' share.

The broker runs in a session of its own (a Ctrl-C in the terminal reaches the launcher only),
so a launcher killed before its ``stop()`` (SIGKILL, an unhandled SIGTERM) leaves the broker
running; its pid is in ``<data_dir>/kafka.pid`` and the next ``start()`` on that folder says so.
A broker that was itself killed (kill -9) starts again on the same folder: the system releases
its log-folder locks and ports with the process, and the broker recovers its logs on start.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import fcntl
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from shared.infra import run_blocking

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kafka"
MVN_COPY = "org.apache.maven.plugins:maven-dependency-plugin:3.7.1:copy-dependencies"
LEADER_WAIT_SECONDS = 30.0  # create_topics waits this long for the new partitions' leaders


def ensure_kafka_jars(root: Path) -> Path:
    """The folder of broker jars (``root/.cache/kafka/libs``), fetched by Maven the first time."""
    libs = root.resolve() / ".cache" / "kafka" / "libs"
    if not any(libs.glob("kafka_2.13-*.jar")):
        subprocess.run(
            [
                "mvn",
                "-q",
                "-f",
                str(DEPLOY / "pom.xml"),
                MVN_COPY,
                "-DincludeScope=runtime",
                f"-DoutputDirectory={libs}",
            ],
            check=True,
        )
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise RuntimeError(f"no Kafka broker jar in {libs} after the Maven download")
    return libs


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        # SO_REUSEADDR as the JVM sets it: sockets in TIME_WAIT do not count, listeners do.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _locked(lock_file: Path) -> bool:
    """True when a process holds the lock that a running broker takes on each log folder."""
    if not lock_file.exists():
        return False
    with lock_file.open("rb+") as lock:
        try:
            fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.lockf(lock, fcntl.LOCK_UN)
        return False


def _new_cluster_id() -> str:
    """22 characters of URL-safe base64 of a random UUID, not starting with '-'."""
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]
    return "A" + cluster_id[1:] if cluster_id.startswith("-") else cluster_id


class KafkaBroker:
    """One KRaft broker+controller on 127.0.0.1 whose data lives in ``data_dir``."""

    def __init__(
        self, data_dir: Path, port: int, controller_port: int, libs_dir: Path, heap_mb: int = 512
    ) -> None:
        if port == controller_port:
            raise ValueError(f"the broker and controller ports must differ (both {port})")
        self.data_dir = data_dir.resolve()
        self.port = port
        self.controller_port = controller_port
        self.libs_dir = libs_dir.resolve()
        self.heap_mb = heap_mb
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None  # of the last successful start()

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def log_file(self) -> Path:
        """The broker's log4j log (warnings and the 'Kafka Server started' line)."""
        return self.data_dir / "server.log"

    @property
    def cluster_id(self) -> str | None:
        """The cluster id written when the storage was formatted, None before that."""
        meta = self.log_dirs / "meta.properties"
        if not meta.exists():
            return None
        for line in meta.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "cluster.id":
                return value.strip()
        return None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def alive(self) -> bool:
        return self.running

    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.running else None

    def start(self, timeout: float = 90.0) -> None:
        """Launch the broker (formatting a new data folder first); return once it serves."""
        if self.running:
            return
        began = time.monotonic()
        if _locked(self.log_dirs / ".lock"):
            raise RuntimeError(
                f"another broker runs on {self.log_dirs} (pid {self._recorded_pid()}; an earlier"
                " run killed before its stop() leaves its broker running)"
            )
        for port in (self.port, self.controller_port):
            if _port_in_use(port):
                raise RuntimeError(f"port {port} on 127.0.0.1 is already in use")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        properties = self._write_properties()
        if self.cluster_id is None:
            self._format(properties)
        with (self.data_dir / "stdout.log").open("ab") as output:
            self.process = subprocess.Popen(
                [*self._java(), "kafka.Kafka", str(properties)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the broker
            )
        (self.data_dir / "kafka.pid").write_text(f"{self.process.pid}\n")
        atexit.register(self.stop)
        try:
            self._wait_until_serving(began + timeout, timeout)
        except BaseException:  # a timeout, an exit, Ctrl-C: no broker left behind
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a controlled shutdown), then SIGKILL after ``timeout`` seconds."""
        atexit.unregister(self.stop)
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------

    def _java(self) -> list[str]:
        return [
            "java",
            "-Xms128m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseG1GC",
            # The client compiler only: C2 spent ~9 CPU-s compiling in the bench's first
            # minutes, on cores the services need; C1 code is ample for this broker's rates.
            "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={DEPLOY / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            f"{self.libs_dir}/*",
        ]

    def _write_properties(self) -> Path:
        template = (DEPLOY / "server.properties").read_text(encoding="utf-8")
        text = template.format(
            port=self.port,
            controller_port=self.controller_port,
            log_dirs=self.log_dirs,
        )
        path = self.data_dir / "server.properties"
        path.write_text(text, encoding="utf-8")
        return path

    def _format(self, properties: Path) -> None:
        command = [
            *self._java(),
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            _new_cluster_id(),
            "-c",
            str(properties),
        ]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.data_dir)
        if result.returncode != 0:
            raise RuntimeError(
                f"formatting {self.log_dirs} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )

    def _wait_until_serving(self, deadline: float, timeout: float) -> None:
        expected = self.cluster_id
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"Kafka exited with {code} while starting:\n{self._tail()}")
            if run_blocking(_serves(self.bootstrap_servers, expected)):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka did not serve within {timeout:.0f} s:\n{self._tail()}")
            time.sleep(0.25)

    def _recorded_pid(self) -> str:
        try:
            return (self.data_dir / "kafka.pid").read_text().strip()
        except OSError:
            return "unknown"

    def _tail(self, lines: int = 30) -> str:
        parts: list[str] = []
        for log in (self.log_file, self.data_dir / "stdout.log"):
            if log.exists():
                tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"--- {log} ---\n" + "\n".join(tail))
        return "\n".join(parts)


async def _serves(bootstrap: str, cluster_id: str | None) -> bool:
    """True when the broker at ``bootstrap`` answers a metadata request, as ``cluster_id``."""
    host, _, port = bootstrap.rpartition(":")
    try:  # a plain connect first: aiokafka logs an error for every refused connection
        _, writer = await asyncio.open_connection(host, int(port))
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return cluster_id is None or cluster.get("cluster_id") == cluster_id
    except (KafkaError, OSError):  # TimeoutError is an OSError
        return False
    finally:
        await admin.close()


async def create_topics(bootstrap: str, names: list[str], partitions: int = 6) -> None:
    """Create the topics that do not exist yet (retention.ms=-1); wait until each has leaders.

    Idempotent: existing topics are left as they are, whatever their partition count.
    aiokafka reports per-topic failures in the response instead of raising, so they are
    checked here (an invalid config, an unreachable replication factor ...).
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, 1, topic_configs={"retention.ms": "-1"})
            for name in wanted
            if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for topic, code, *message in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):  # another starter was first
                    error = for_code(code)
                    raise error(f"cannot create topic {topic!r}: {message[0] if message else ''}")
        pending = wanted
        try:
            async with asyncio.timeout(LEADER_WAIT_SECONDS):
                while True:
                    pending = await _without_leaders(admin, wanted)
                    if not pending:
                        break
                    await asyncio.sleep(0.1)  # new partitions get their leader within ms
        except TimeoutError:
            raise TimeoutError(f"no partition leaders for: {', '.join(pending)}") from None
    finally:
        await admin.close()


async def _without_leaders(admin: AIOKafkaAdminClient, names: list[str]) -> list[str]:
    """The topics among ``names`` that are unknown yet or have a partition without leader."""
    return [
        topic["topic"]
        for topic in await admin.describe_topics(names)
        if topic["error_code"] != 0
        or not topic["partitions"]
        or any(p["error_code"] != 0 or p["leader"] < 0 for p in topic["partitions"])
    ]
