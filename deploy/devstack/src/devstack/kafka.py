"""A single-node Apache Kafka 4.x broker in KRaft mode, run from jars resolved from Maven Central.

``deploy/kafka/pom.xml`` names the broker and the log4j SLF4J binding its POM leaves out; Maven
copies the runtime classpath into a cache outside the repository once, keyed by the POM's content.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.catalogue import CATALOGUE
from contracts.topics import Catalogue
from devstack.procs import (
    cache_root,
    die_with_parent,
    free_port,
    port_open,
    private_log,
    record_pid,
    stop_process,
    wait_until,
)
from servicekit.broker import client_options
from servicekit.settings import ServiceSettings
from servicekit.tools.localsecrets import (
    ADMIN,
    KafkaSecrets,
    default_users,
    private_dir,
    write_private,
)
from servicekit.tools.provision import provision

KAFKA_DIR = Path(
    os.environ.get("DEVSTACK_KAFKA_DIR", Path(__file__).resolve().parents[3] / "kafka")
)
POM = KAFKA_DIR / "pom.xml"
LOG4J2 = KAFKA_DIR / "log4j2.xml"
START_TIMEOUT_S = float(os.environ.get("DEVSTACK_KAFKA_START_TIMEOUT", "90"))


def kafka_version() -> str:
    """The broker version the POM pins (``<kafka.version>``)."""
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if not match:  # pragma: no cover - the POM is ours
        raise RuntimeError(f"no <kafka.version> in {POM}")
    return match.group(1)


def maven_copy_dependencies(
    pom: Path, output: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """``mvn dependency:copy-dependencies`` of ``pom`` into ``output``, refusing any file whose checksum does not
    match the repository's (``--strict-checksums``: Maven's default only warns)."""
    cmd = [
        "mvn",
        "-q",
        "-B",
        "--strict-checksums",
        *options,
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={output}",
        "-DincludeScope=runtime",
    ]
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
        raise RuntimeError(
            f"Maven could not resolve the Kafka broker jars:\n{result.stdout}\n{result.stderr}"
        )
    (staging / ".complete").write_text(kafka_version())
    try:
        staging.rename(target)
    except OSError:  # another process resolved it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _security_properties(secrets: KafkaSecrets) -> list[str]:
    """Clients: SASL/SCRAM-SHA-512 over TLS. The controller listener: TLS with a client certificate signed by the
    throw-away CA, which only the broker holds. The authoriser denies whatever no ACL allows; the admin
    principal (and the broker itself) are super users."""
    return [
        "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL",
        "inter.broker.listener.name=SASL_SSL",
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule "
        f'required username="{ADMIN}" password="{secrets.password(ADMIN)}";',
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={secrets.keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={secrets.ca}",
        "listener.name.controller.ssl.client.auth=required",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        f"super.users=User:{ADMIN};User:CN=broker",
    ]


def _server_properties(
    data: Path,
    port: int,
    controller_port: int,
    secrets: KafkaSecrets | None,
    *,
    node_id: int = 1,
    voters: str | None = None,
    replication: int = 1,
) -> str:
    """One node's configuration: a single node by default; in a cluster, ``voters`` names every controller and the
    internal topics are replicated ``replication`` times, with a write needing all but one of the replicas."""
    client = "SASL_SSL" if secrets is not None else "PLAINTEXT"
    security = (
        _security_properties(secrets)
        if secrets is not None
        else [
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
        ]
    )
    min_isr = max(replication - 1, 1)
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={node_id}",
            f"controller.quorum.voters={voters or f'1@127.0.0.1:{controller_port}'}",
            f"listeners={client}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners={client}://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            *security,
            f"log.dirs={data}",
            "num.partitions=1",
            f"default.replication.factor={replication}",
            f"min.insync.replicas={min_isr}",
            f"offsets.topic.replication.factor={replication}",
            "offsets.topic.num.partitions=4",
            f"transaction.state.log.replication.factor={replication}",
            f"transaction.state.log.min.isr={min_isr}",
            f"share.coordinator.state.topic.replication.factor={replication}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
            # Topics come from the catalogue with explicit partitions; a typo must not create one.
            "auto.create.topics.enable=false",
            "group.initial.rebalance.delay.ms=0",
            "",
        ]
    )


@dataclass(frozen=True)
class KafkaAccess:
    """How a tool or a service reaches a broker: its address and, for a secured one (SASL/SCRAM over TLS), the
    directory of its CA and its users' passwords (:class:`KafkaSecrets`). The tools (the test harness, the demo's
    runner, the bench's load) connect as the admin; each service as its own principal."""

    bootstrap_servers: str
    secrets: KafkaSecrets | None = None

    def settings(self, principal: str) -> dict[str, Any]:
        """Service settings (keyword arguments) that connect as ``principal``."""
        if self.secrets is None:
            return {
                "kafka_bootstrap_servers": self.bootstrap_servers,
                "kafka_security_protocol": "PLAINTEXT",
            }
        return {
            "kafka_bootstrap_servers": self.bootstrap_servers,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_ssl_cafile": self.secrets.ca,
            "kafka_sasl_username": principal,
            "kafka_sasl_password_file": self.secrets.password_file(principal),
            "dlq_seal_key_file": self.secrets.seal_key(principal),
        }

    def admin_settings(self, **settings: Any) -> ServiceSettings:
        """The admin principal's settings (what the provisioning step connects with), plus ``settings``."""
        return ServiceSettings(service_name="provision", **settings, **self.settings(ADMIN))

    async def provision(
        self, catalogue: Catalogue = CATALOGUE, *, attempts: int = 60, **settings: Any
    ) -> list[str]:
        """As the admin, what ``python -m servicekit.tools.provision`` does: the catalogue's topics under the settings'
        prefix, and its ACLs on a secured broker. Returns the topics created."""
        return await provision(
            self.admin_settings(**settings),
            catalogue,
            with_acls=self.secrets is not None,
            attempts=attempts,
        )

    def client(self, principal: str = ADMIN) -> dict[str, Any]:
        """aiokafka keyword arguments that connect as ``principal`` (the admin unless said otherwise)."""
        return client_options(ServiceSettings(**self.settings(principal)))

    def env(self, services: Iterable[str] = ()) -> dict[str, str]:
        """Environment for service processes: the shared address, protocol and CA, and for each of ``services``
        its own password file (``<SERVICE>_KAFKA_SASL_PASSWORD_FILE``) and dead-letter seal key
        (``<SERVICE>_DLQ_SEAL_KEY_FILE``); never a password or a key itself."""
        shared = self.settings(ADMIN)
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_SECURITY_PROTOCOL": shared["kafka_security_protocol"],
        }
        if self.secrets is not None:
            env["KAFKA_SSL_CAFILE"] = str(self.secrets.ca)
            env |= {
                f"{s.upper()}_KAFKA_SASL_PASSWORD_FILE": str(self.secrets.password_file(s))
                for s in services
            }
            env |= {
                f"{s.upper()}_DLQ_SEAL_KEY_FILE": str(key)
                for s in services
                if (key := self.secrets.seal_key(s)) is not None
            }
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> KafkaAccess | None:
        """An existing cluster: ``KAFKA_BOOTSTRAP_SERVERS``, and ``KAFKA_SECRETS_DIR`` (``ca.pem`` and
        ``users/<principal>.password``, the admin's included) unless it is an open ``PLAINTEXT`` one."""
        if not (bootstrap := environ.get("KAFKA_BOOTSTRAP_SERVERS")):
            return None
        directory = environ.get("KAFKA_SECRETS_DIR")
        return cls(bootstrap, KafkaSecrets(Path(directory)) if directory else None)


@dataclass
class LocalKafka:
    """A running broker. Use :meth:`start`; stop with :meth:`stop` (or let the parent die).

    Secured unless started with ``secured=False``: SASL/SCRAM-SHA-512 over TLS for clients, a throw-away CA
    and broker certificate and a password per user in ``<workdir>/secrets`` (made once), the users created when
    the storage is formatted, and an authoriser that denies whatever no ACL allows."""

    port: int
    controller_port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    version: str
    secrets: KafkaSecrets | None
    owns_workdir: bool = field(default=True)
    quick_start: bool = False

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def access(self) -> KafkaAccess:
        return KafkaAccess(self.bootstrap_servers, self.secrets)

    @property
    def log_path(self) -> Path:
        return self.workdir / "broker.log"

    @classmethod
    def start(
        cls,
        workdir: Path | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        heap_mb: int = 512,
        *,
        secured: bool = True,
        users: Iterable[str] = (),
        quick_start: bool = False,
    ) -> LocalKafka:
        """Start a broker (formatting its storage the first time). ``users``: principals besides the admin and
        the catalogue's, given a SCRAM user too (the tests' probe service). ``quick_start``: see :func:`_launch`."""
        jars = resolve_jars()
        owns = workdir is None
        workdir = (
            Path(tempfile.mkdtemp(prefix="kafka-")) if workdir is None else private_dir(workdir)
        )
        port = port or free_port()
        controller_port = controller_port or free_port()
        data = workdir / "data"
        formatted = (data / "meta.properties").exists()
        secrets = None
        if secured:
            if formatted and not (workdir / "secrets").exists():
                raise RuntimeError(
                    f"{data} was formatted without users (an open broker, by an older launcher); "
                    "remove that data directory to start a secured one"
                )
            secrets = KafkaSecrets.ensure(workdir / "secrets", sorted({*default_users(), *users}))
        props = _write_properties(workdir, _server_properties(data, port, controller_port, secrets))
        if not formatted:
            _format(jars, props, _cluster_id(), secrets)
        proc = _launch(jars, props, workdir / "broker.log", heap_mb, quick_start=quick_start)
        broker = cls(
            port, controller_port, workdir, proc, kafka_version(), secrets, owns, quick_start
        )
        try:
            wait_until(
                broker._started,
                timeout=START_TIMEOUT_S,
                what="Kafka broker",
                proc=proc,
                log=broker.log_path,
            )
        except BaseException:
            broker.stop()
            raise
        return broker

    def _started(self) -> bool:
        return port_open(self.port) and b"Kafka Server started" in self.log_path.read_bytes()

    def log_text(self) -> str:
        """What the broker has logged (its start, warnings, failed logins and denied operations)."""
        return self.log_path.read_text(errors="replace")

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
        self.process = LocalKafka.start(
            self.workdir,
            self.port,
            self.controller_port,
            secured=self.secrets is not None,
            quick_start=self.quick_start,
        ).process


def _write_properties(workdir: Path, text: str) -> Path:
    props = workdir / "server.properties"
    props.unlink(missing_ok=True)
    props.touch(mode=0o600)  # it holds the admin's password for the broker's own connections
    props.write_text(text)
    return props


def _java(jars: Path) -> list[str]:
    return ["java", f"-Dlog4j2.configurationFile={LOG4J2}", "-cp", f"{jars}/*"]


def _format(jars: Path, props: Path, cluster_id: str, secrets: KafkaSecrets | None) -> None:
    """Format a node's storage for ``cluster_id``, with a SCRAM user for every principal of ``secrets``.

    The passwords never reach a command line (``/proc/<pid>/cmdline`` is world-readable): StorageTool's whole
    argument list is handed to the JVM as a ``@argfile`` readable by its owner only, removed straight after."""
    scram = (
        []
        if secrets is None
        else [
            arg
            for user in secrets.users()
            for arg in (
                "--add-scram",
                f"SCRAM-SHA-512=[name={user},password={secrets.password(user)}]",
            )
        ]
    )
    arguments = ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props), *scram]
    argfile = props.parent / f".storage-format-{uuid.uuid4().hex}.args"
    write_private(argfile, "\n".join(f'"{a}"' for a in arguments).encode())
    try:
        subprocess.run([*_java(jars), f"@{argfile}"], check=True, capture_output=True, umask=0o077)
    finally:
        argfile.unlink(missing_ok=True)


def _launch(
    jars: Path, props: Path, log_path: Path, heap_mb: int, *, quick_start: bool
) -> subprocess.Popen[bytes]:
    """Start a node. Its segments hold customers' data: every file and folder it makes is its owner's only. Its log
    is ``log_path``, which log4j rolls over by size (``deploy/kafka/log4j2.xml``); what the JVM itself prints (a
    crash) goes to ``broker.out`` beside it.

    ``quick_start``: the JVM compiles with its first tier only (``-XX:TieredStopAtLevel=1``). The node is ready
    sooner and the compiler takes less of a small machine while it starts, which is what a test run wants; but it
    spends more CPU on every request under load (the bench measured it: ``docs/performance.md``), so the system
    (``./dev run``), the bench and the deploy image compile fully."""
    os.close(private_log(log_path))  # made its owner's only before log4j appends to it
    log = private_log(log_path.with_name("broker.out"))
    try:
        proc = subprocess.Popen(
            [
                *_java(jars),
                "-Dmsp.kafka.log.to=file",
                f"-Dmsp.kafka.log.file={log_path}",
                f"-Xmx{heap_mb}m",
                f"-Xms{heap_mb // 2}m",
                "-XX:+UseSerialGC",
                *(["-XX:TieredStopAtLevel=1"] if quick_start else []),
                "kafka.Kafka",
                str(props),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            umask=0o077,
            preexec_fn=die_with_parent(signal.SIGKILL),  # noqa: PLW1509 - needed for PDEATHSIG
        )
    finally:
        os.close(log)
    record_pid(proc.pid)
    return proc


_LEADER = re.compile(r"Completed transition to Leader\w*\(.*?epoch=(?P<epoch>\d+)")
"""KRaft's line when a node becomes the quorum's leader (the active controller), with the epoch it leads."""


@dataclass
class KafkaNode:
    """One node of a local cluster: a broker and a controller in one process."""

    node_id: int
    port: int
    controller_port: int
    workdir: Path
    process: subprocess.Popen[bytes]

    @property
    def log_path(self) -> Path:
        return self.workdir / "broker.log"

    log_from: int = 0
    """Where this start's lines begin in the log (a restart appends)."""

    def started(self) -> bool:
        return (
            port_open(self.port)
            and b"Kafka Server started" in self.log_path.read_bytes()[self.log_from :]
        )


@dataclass
class LocalKafkaCluster:
    """A cluster of KRaft nodes (each a broker and a controller) on loopback, secured like :class:`LocalKafka`:
    one throw-away CA and broker certificate, the same users on every node. Topics get the cluster's replication
    (3 for three nodes) and a write needs all but one replica in sync (``min.insync.replicas`` 2 of 3)."""

    nodes: list[KafkaNode]
    workdir: Path
    version: str
    secrets: KafkaSecrets | None
    jars: Path
    heap_mb: int
    owns_workdir: bool = True
    quick_start: bool = False

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def access(self) -> KafkaAccess:
        return KafkaAccess(self.bootstrap_servers, self.secrets)

    @property
    def replication(self) -> int:
        return min(len(self.nodes), 3)

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The first node's process (what a single broker's callers read)."""
        return self.nodes[0].process

    @classmethod
    def start(
        cls,
        size: int = 3,
        workdir: Path | None = None,
        heap_mb: int = 384,
        *,
        secured: bool = True,
        users: Iterable[str] = (),
        quick_start: bool = False,
    ) -> LocalKafkaCluster:
        jars = resolve_jars()
        owns = workdir is None
        workdir = (
            Path(tempfile.mkdtemp(prefix="kafka-cluster-"))
            if workdir is None
            else private_dir(workdir)
        )
        secrets = (
            KafkaSecrets.ensure(workdir / "secrets", sorted({*default_users(), *users}))
            if secured
            else None
        )
        ports = [(free_port(), free_port()) for _ in range(size)]
        voters = ",".join(
            f"{i}@127.0.0.1:{controller}" for i, (_, controller) in enumerate(ports, 1)
        )
        cluster_id = _cluster_id()
        replication = min(size, 3)
        nodes = []
        for node_id, (port, controller) in enumerate(ports, 1):
            home = private_dir(workdir / f"node-{node_id}")
            props = _write_properties(
                home,
                _server_properties(
                    home / "data",
                    port,
                    controller,
                    secrets,
                    node_id=node_id,
                    voters=voters,
                    replication=replication,
                ),
            )
            if not (home / "data" / "meta.properties").exists():
                _format(jars, props, cluster_id, secrets)
            nodes.append(
                KafkaNode(
                    node_id,
                    port,
                    controller,
                    home,
                    _launch(jars, props, home / "broker.log", heap_mb, quick_start=quick_start),
                )
            )
        cluster = cls(nodes, workdir, kafka_version(), secrets, jars, heap_mb, owns, quick_start)
        try:
            for node in nodes:
                wait_until(
                    node.started,
                    timeout=START_TIMEOUT_S * 2,
                    what=f"Kafka node {node.node_id}",
                    proc=node.process,
                    log=node.log_path,
                )
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def active_controller(self) -> int:
        """The node leading the KRaft quorum now: the live node whose log shows the latest epoch's transition to
        leader (each node logs its own; a client's metadata names a broker, never the controller)."""
        latest: tuple[int, int] | None = None
        for node in self.nodes:
            if node.process.poll() is not None:
                continue
            for match in _LEADER.finditer(node.log_path.read_text(errors="replace")):
                epoch = int(match.group("epoch"))
                if latest is None or epoch > latest[0]:
                    latest = (epoch, node.node_id)
        if latest is None:
            raise RuntimeError("no node's log shows it leading the quorum")
        return latest[1]

    def node(self, node_id: int) -> KafkaNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def kill(self, node_id: int) -> None:
        """kill -9 one node; its data stays for :meth:`restart`."""
        node = self.node(node_id)
        node.process.kill()
        node.process.wait()

    def pause(self, node_id: int) -> None:
        """SIGSTOP: the node stops answering without closing a connection (a hung machine)."""
        self.node(node_id).process.send_signal(signal.SIGSTOP)

    def resume(self, node_id: int) -> None:
        self.node(node_id).process.send_signal(signal.SIGCONT)

    def restart(self, node_id: int) -> None:
        node = self.node(node_id)
        node.log_from = node.log_path.stat().st_size  # "started" is read from this start's lines
        node.process = _launch(
            self.jars,
            node.workdir / "server.properties",
            node.log_path,
            self.heap_mb,
            quick_start=self.quick_start,
        )
        wait_until(
            node.started,
            timeout=START_TIMEOUT_S * 2,
            what=f"Kafka node {node_id}",
            proc=node.process,
            log=node.log_path,
        )

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop every node. Data kept: all are asked at once (SIGTERM), so none waits for a quorum the others
        already left (one at a time, the last waited its whole 30 s). Data thrown away: killed, as nothing of it
        is read again."""
        for node in self.nodes:
            with contextlib.suppress(ProcessLookupError):
                node.process.send_signal(signal.SIGCONT)  # a paused node cannot stop
                node.process.send_signal(signal.SIGTERM if keep_data else signal.SIGKILL)
        for node in self.nodes:
            stop_process(node.process, signal.SIGTERM)
        if self.owns_workdir and not keep_data:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _cluster_id() -> str:
    # A KRaft cluster id is a base64url-encoded UUID (what `StorageTool random-uuid` prints). Like Kafka's own
    # Uuid.randomUuid, never one starting with "-": StorageTool's argument parser would read it as an option
    # (one start in 64 failed that way).
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
