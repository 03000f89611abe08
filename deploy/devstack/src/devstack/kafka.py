"""A single-node Apache Kafka 4.x broker in KRaft mode, run from jars resolved from Maven Central.

``deploy/kafka/pom.xml`` names the broker and the log4j SLF4J binding its POM leaves out; Maven
copies the runtime classpath into a cache outside the repository once, keyed by the POM's content.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from devstack.procs import cache_root, die_with_parent, free_port, port_open, record_pid, stop_process, wait_until

KAFKA_DIR = Path(os.environ.get("DEVSTACK_KAFKA_DIR", Path(__file__).resolve().parents[3] / "kafka"))
POM = KAFKA_DIR / "pom.xml"
LOG4J2 = KAFKA_DIR / "log4j2.xml"
START_TIMEOUT_S = float(os.environ.get("DEVSTACK_KAFKA_START_TIMEOUT", "90"))


def kafka_version() -> str:
    """The broker version the POM pins (``<kafka.version>``)."""
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if not match:  # pragma: no cover - the POM is ours
        raise RuntimeError(f"no <kafka.version> in {POM}")
    return match.group(1)


def maven_copy_dependencies(pom: Path, output: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``mvn dependency:copy-dependencies`` of ``pom`` into ``output``, refusing any file whose checksum does not
    match the repository's (``--strict-checksums``: Maven's default only warns)."""
    cmd = ["mvn", "-q", "-B", "--strict-checksums", *options, "-f", str(pom), "dependency:copy-dependencies",
           f"-DoutputDirectory={output}", "-DincludeScope=runtime"]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def resolve_jars() -> Path:
    """Return the folder holding the broker's classpath, resolving it with Maven on first use."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    target = cache_root() / f"kafka-{kafka_version()}-{digest}"
    if (target / ".complete").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="kafka-jars-", dir=target.parent))
    result = maven_copy_dependencies(POM, staging)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"Maven could not resolve the Kafka broker jars:\n{result.stdout}\n{result.stderr}")
    (staging / ".complete").write_text(kafka_version())
    try:
        staging.rename(target)
    except OSError:  # another process resolved it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _server_properties(data: Path, port: int, controller_port: int) -> str:
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={data}",
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        # Topics come from the catalogue with explicit partitions; a typo must not create one.
        "auto.create.topics.enable=false",
        "group.initial.rebalance.delay.ms=0",
        "",
    ])


@dataclass
class LocalKafka:
    """A running broker. Use :meth:`start`; stop with :meth:`stop` (or let the parent die)."""

    port: int
    controller_port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    version: str
    owns_workdir: bool = field(default=True)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "broker.log"

    @classmethod
    def start(cls, workdir: Path | None = None, port: int | None = None, controller_port: int | None = None,
              heap_mb: int = 512) -> LocalKafka:
        jars = resolve_jars()
        owns = workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="kafka-")) if workdir is None else workdir
        workdir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        controller_port = controller_port or free_port()
        data = workdir / "data"
        props = workdir / "server.properties"
        props.write_text(_server_properties(data, port, controller_port))
        java = ["java", f"-Dlog4j2.configurationFile={LOG4J2}", "-cp", f"{jars}/*"]
        if not (data / "meta.properties").exists():
            subprocess.run([*java, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(props)],
                           check=True, capture_output=True)
        log = (workdir / "broker.log").open("ab")
        proc = subprocess.Popen(
            [*java, f"-Xmx{heap_mb}m", f"-Xms{heap_mb // 2}m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "kafka.Kafka", str(props)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGKILL),  # noqa: PLW1509 - needed for PDEATHSIG
        )
        log.close()
        record_pid(proc.pid)
        broker = cls(port, controller_port, workdir, proc, kafka_version(), owns)
        try:
            wait_until(broker._started, timeout=START_TIMEOUT_S, what="Kafka broker", proc=proc, log=broker.log_path)
        except BaseException:
            broker.stop()
            raise
        return broker

    def _started(self) -> bool:
        return port_open(self.port) and b"Kafka Server started" in self.log_path.read_bytes()

    def is_running(self) -> bool:
        return self.process.poll() is None and port_open(self.port)

    def stop(self, *, keep_data: bool = False) -> None:
        stop_process(self.process, signal.SIGTERM)
        if self.owns_workdir and not keep_data:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        """Crash the broker (SIGKILL), keeping its data for :meth:`restart`; used by fault tests."""
        self.process.kill()
        self.process.wait()

    def restart(self) -> None:
        """Start again on the same ports and data (after :meth:`stop` with ``keep_data`` or :meth:`kill`)."""
        self.process = LocalKafka.start(self.workdir, self.port, self.controller_port).process


def _cluster_id() -> str:
    # A KRaft cluster id is a base64url-encoded UUID (what `StorageTool random-uuid` prints). Like Kafka's own
    # Uuid.randomUuid, never one starting with "-": StorageTool's argument parser would read it as an option
    # (one start in 64 failed that way).
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
