"""Runs the whole system on embedded defaults: broker, database, and every installed service."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from contracts.access import DLQ_REPLAYER, upstream
from contracts.catalogue import CATALOGUE
from contracts.envelope import Event
from contracts.examples import with_envelope
from contracts.roles import OPERATIONS
from contracts.topics import ContractError, Topic
from devstack.backup import redacted
from devstack.kafka import KafkaAccess
from devstack.procs import (
    die_with_parent,
    listening_ports,
    port_taken_by,
    private_log,
    stop_process,
    stop_requested,
)
from devstack.state import CHECKOUT, STATE_DIR, read_state, state_file, write_state, write_token
from devstack.tokens import DEMO_OFFICERS, OPERATOR, SYSTEM_AUDIENCES, Signer, demo_claims
from servicekit.db import ServiceRole, provision_roles
from servicekit.logs import configure_logging
from servicekit.tools.localsecrets import private_dir, secret, write_private

SERVICES = ("notification", "expenses", "workitems", "console")
"""The service packages a launcher starts, where installed; each serves /health, /ready, /metrics and its API on
one HTTP port."""


def installed_services(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """Each installed service and its HTTP port: ``<SERVICE>_HTTP_PORT`` where the environment gives one, else 0
    (a free port, which the service takes and the launcher reads off it: two systems on one machine never meet)."""
    given: Mapping[str, str] = os.environ if env is None else env
    return {
        name: int(given.get(f"{name.upper()}_HTTP_PORT") or 0)
        for name in SERVICES
        if importlib.util.find_spec(name) is not None
    }


@dataclass
class RunningSystem:
    env: dict[str, str]
    """The environment the services share (KAFKA_BOOTSTRAP_SERVERS, the CA, ...); no service's own secret."""
    kafka: KafkaAccess | None = None
    """The broker, as the launcher and its tools reach it (the admin)."""
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{self.ports[name]}" for name in self.children}

    def exited(self) -> str | None:
        """The name of a service that stopped by itself, if any."""
        return next((name for name, c in self.children.items() if c.poll() is not None), None)

    def _check_alive(self) -> None:
        if (gone := self.exited()) is not None:
            raise RuntimeError(
                f"{gone} exited with code {self.children[gone].returncode} while starting"
            )

    def find_ports(self, given: Mapping[str, int], timeout: float = 120.0) -> None:
        """Each child's HTTP port, read off the child itself (what it listens on): a port given is trusted only
        once the launcher's own child holds it, so another system's service on it is never taken for ours."""
        deadline = time.monotonic() + timeout
        for name, child in self.children.items():
            while True:
                self._check_alive()
                held = listening_ports(child.pid)
                if held and (not given.get(name) or given[name] in held):
                    self.ports[name] = given.get(name) or min(held)
                    break
                if time.monotonic() > deadline:
                    where = f"port {given[name]}" if given.get(name) else "any port"
                    raise TimeoutError(
                        f"{name} (pid {child.pid}) is not listening on {where} after {timeout:.0f}s"
                    )
                time.sleep(0.1)

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Until each child's own port answers /ready 200 (its port found by :meth:`find_ports`)."""
        deadline = time.monotonic() + timeout
        for name, url in self.urls.items():
            while True:
                self._check_alive()
                with (
                    contextlib.suppress(OSError),
                    urllib.request.urlopen(f"{url}/ready", timeout=2) as response,  # noqa: S310
                ):
                    if response.status == 200:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready at {url}/ready within {timeout:.0f}s")
                time.sleep(0.25)


def service_databases(
    admin_url: str, env: dict[str, str], secrets_dir: Path
) -> dict[str, dict[str, str]]:
    """A login role per installed service, owning its schema and nothing else: each service's own settings, its
    URL without the password and the 0600 file that holds it (an environment is no place for a secret)."""
    roles = [
        ServiceRole(
            name,
            env.get(f"{name.upper()}_DB_SCHEMA", name),
            secret(secrets_dir, f"db-{name}.password"),
        )
        for name in installed_services()
    ]
    asyncio.run(provision_roles(admin_url, roles))
    address = admin_url.partition("@")[2]
    return {
        r.role: {
            f"{r.role.upper()}_DATABASE_URL": f"postgresql://{r.role}@{address}",
            f"{r.role.upper()}_DATABASE_PASSWORD_FILE": str(secrets_dir / f"db-{r.role}.password"),
        }
        for r in roles
    }


def child_environment(
    name: str, env: dict[str, str], kafka: KafkaAccess, own: dict[str, str] | None, port: int
) -> dict[str, str]:
    """A service's environment: the shared settings, its own Kafka password file, and, where the launcher made
    its database role, its own URL and password file in place of the administrator's URL."""
    child = dict(env, **kafka.env([name]), **{f"{name.upper()}_HTTP_PORT": str(port)})
    if own is not None:
        del child["DATABASE_URL"]
        child.update(own)
    return child


SHOWN_FIRST = ("timestamp", "level", "event", "service", "component")


def readable_line(service: str, line: str) -> str:
    """One of a service's JSON log lines as a person reads it in a terminal: who, when, how grave, what, then the
    rest as key=value (a line that is not JSON as it is). The JSON stays the format of files and of production."""
    try:
        record = json.loads(line)
    except ValueError:
        return f"[{service}] {line}"
    if not isinstance(record, dict):
        return f"[{service}] {line}"
    when = str(record.get("timestamp", ""))[11:19]
    rest = " ".join(f"{k}={v}" for k, v in record.items() if k not in SHOWN_FIRST)
    component = f" ({record['component']})" if record.get("component") else ""
    return (
        f"[{service}] {when} {record.get('level', '')!s:<7} {record.get('event', '')}{component}"
        + (f"  {rest}" if rest else "")
    )


def system_line(text: str, *, readable: bool, at: datetime | None = None) -> str:
    """One of the launcher's own lines in the format of the services' beside it (issue 41: three log formats in one
    terminal): on a terminal, as :func:`readable_line` shows theirs; piped, a JSON line like theirs."""
    record = {
        "timestamp": (at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "level": "info",
        "event": text.removeprefix("[system] ").strip(),
        "service": "system",
    }
    return readable_line("system", json.dumps(record)) if readable else json.dumps(record)


class ReadableStream:
    """Where the launcher's own structured log lines (provisioning, ...) go on a terminal: each JSON line shown as
    :func:`readable_line` shows the services'."""

    def __init__(self, out: Any) -> None:
        self.out = out

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self.out.write(readable_line("system", line) + "\n")
        self.out.flush()
        return len(text)

    def flush(self) -> None:
        self.out.flush()


def launcher_logging(readable: bool) -> None:
    """The launcher logs as the services do (JSON, redacted), shown readably on a terminal: one format per stream."""
    configure_logging(
        service="system",
        pseudonym_key=os.urandom(
            32
        ),  # the launcher logs no customer's reference; a key of its own all the same
        stream=ReadableStream(sys.stdout) if readable else sys.stdout,
    )


def announce(text: str) -> None:
    """Say ``text`` as the launcher, in the terminal's one format (:func:`system_line`)."""
    print(system_line(text, readable=sys.stdout.isatty()), flush=True)


def relay_readably(service: str, child: subprocess.Popen[bytes]) -> None:
    """Each line the service writes, readably, on the launcher's terminal, until the service ends."""
    assert child.stdout is not None
    for raw in child.stdout:
        print(readable_line(service, raw.decode("utf-8", "replace").rstrip("\n")), flush=True)


def provision_bus(kafka: KafkaAccess, env: dict[str, str]) -> None:
    """As the admin: the catalogue's topics under the deployment's prefix, and its ACLs on a secured broker."""
    given: dict[str, Any] = {
        name: env[name.upper()]
        for name in ("topic_prefix", "topic_partitions", "topic_replication")
        if env.get(name.upper())
    }
    asyncio.run(kafka.provision(**given))


def refuse_taken_ports(ports: Mapping[str, int]) -> None:
    """Start nothing when a service's port is taken: say which, and by whom (a service that cannot bind would
    otherwise start, fail and stop the whole system)."""
    taken = {
        name: who
        for name, port in ports.items()
        if port and (who := port_taken_by(port)) is not None
    }
    if taken:
        raise SystemExit(
            "[system] not started: "
            + "; ".join(f"{n}'s port {ports[n]} is taken by {who}" for n, who in taken.items())
            + ". Stop that, or give this system other ports (<SERVICE>_HTTP_PORT, e.g. NOTIFICATION_HTTP_PORT=9081; "
            "unset, each service takes a free one)."
        )


@contextlib.contextmanager
def running_system(
    *,
    clock: str = "system",
    data_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    say: Any = None,
    brokers: int = 1,
    readable: bool = False,
) -> Iterator[RunningSystem]:
    """Start what is not given by the environment (broker, database), then every installed service as a child
    process; stop them all, in order, on the way out. With ``log_dir`` each service logs to its own file."""
    say = say or announce
    started: list[Any] = []
    env = dict(os.environ, CLOCK=clock, **(extra_env or {}))
    given = installed_services(env)  # each service's port: given, or 0 for a free one
    refuse_taken_ports(given)  # before anything starts
    # The run's own secrets (the pseudonym key, the services' database passwords) are 0600 files: in the data
    # directory, or in a private folder removed at the end; a service is given the file, never the secret.
    secrets_dir = (
        private_dir(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="msp-im-run-"))
    )
    if not env.get("LOG_PSEUDONYM_KEY"):
        secret(secrets_dir, "log-pseudonym.key")
        env.setdefault("LOG_PSEUDONYM_KEY_FILE", str(secrets_dir / "log-pseudonym.key"))
    own_urls: dict[str, dict[str, str]] = {}
    system = RunningSystem(env)
    logs: list[IO[bytes]] = []
    try:
        system.kafka = KafkaAccess.from_env(env)
        if system.kafka is None and brokers > 1:
            from devstack.kafka import LocalKafkaCluster

            cluster = LocalKafkaCluster.start(
                brokers, data_dir / "kafka-cluster" if data_dir else None
            )
            started.append(cluster)
            system.kafka = cluster.access
            env.setdefault("TOPIC_REPLICATION", str(cluster.replication))
            say(
                f"[system] Apache Kafka {cluster.version}, {brokers} nodes at {cluster.bootstrap_servers}: SASL_SSL, "
                f"topics replicated {cluster.replication} times, min.insync.replicas {max(cluster.replication - 1, 1)}"
            )
        elif system.kafka is None:
            from devstack.kafka import LocalKafka

            kafka = LocalKafka.start(data_dir / "kafka" if data_dir else None)
            started.append(kafka)
            system.kafka = kafka.access
            say(
                f"[system] Apache Kafka {kafka.version} at {kafka.bootstrap_servers}: SASL_SSL, a user per service, "
                "ACLs from the catalogue"
            )
        env.update(system.kafka.env())
        provision_bus(system.kafka, env)
        if not env.get("DATABASE_URL"):
            from devstack.postgres import LocalPostgres

            pg = LocalPostgres.start(data_dir / "postgres" if data_dir else None)
            started.append(pg)
            own_urls = service_databases(pg.url, env, secrets_dir)
            env["DATABASE_URL"] = (
                pg.url
            )  # the administrator's, for this launcher; no service gets it
            say(
                f"[system] PostgreSQL {pg.version} at 127.0.0.1:{pg.port}, a role per service confined to its schema"
            )
        for name, port in given.items():
            child_env = child_environment(name, env, system.kafka, own_urls.get(name), port)
            out: Any = subprocess.PIPE if readable else None
            if log_dir is not None:
                out = os.fdopen(private_log(private_dir(log_dir) / f"{name}.log"), "wb")
                logs.append(out)
            system.children[name] = subprocess.Popen(
                [sys.executable, "-m", name],
                env=child_env,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                preexec_fn=die_with_parent(signal.SIGTERM),  # noqa: PLW1509
            )
            if readable:
                threading.Thread(
                    target=relay_readably, args=(name, system.children[name]), daemon=True
                ).start()
        system.find_ports(given)
        for name, url in system.urls.items():
            say(f"[system] {name}: {url}/ready")
        yield system
    finally:
        say("[system] stopping ...")
        for child in system.children.values():
            stop_process(child, signal.SIGTERM)
        for server in reversed(started):
            server.stop(keep_data=data_dir is not None)
        for log in logs:
            log.close()
        if data_dir is None:
            shutil.rmtree(secrets_dir, ignore_errors=True)


def development_officers(env: dict[str, str]) -> Signer | None:
    """Without an identity provider configured (``JWT_PUBLIC_KEYS``), a throw-away one for this run, whose
    tokens the services accept: the demo officers' sign-in links are signed by it."""
    if os.environ.get("JWT_PUBLIC_KEYS"):
        return None
    signer = Signer(issuer="https://dev.local/officers", audience=SYSTEM_AUDIENCES)
    env.update(signer.env())
    env.setdefault("CONSOLE_SECURE_COOKIES", "false")  # loopback HTTP: see say_sign_in_links
    return signer


def say_sign_in_links(signer: Signer | None, system: RunningSystem, say: Any = None) -> None:
    """Each demo officer's development token (12 h) kept in a 0600 file, never printed: ``./dev sign-in`` turns
    it into a one-time link when the officer wants one."""
    say = say or announce
    if signer is None or "console" not in system.children:
        return
    for officer in DEMO_OFFICERS:
        write_token(
            f"officer-{officer}",
            signer.token(officer, expires_in=12 * 3600, **demo_claims(officer)),
        )
    say(
        f"[system] the officers' console: {system.urls['console']}/ui/ ; `./dev sign-in OFFICER` prints a one-time "
        "sign-in link (2 minutes, used once) for a demo officer, one per role:"
    )
    for officer, roles in DEMO_OFFICERS.items():
        say(f"./dev sign-in {officer}   ({', '.join(roles) or 'no role: all staff'})")
    if system.env.get("CONSOLE_SECURE_COOKIES") == "false":
        say(
            "[system] the console's session cookie is not `Secure` here: it is served over plain HTTP on loopback, "
            "and a browser keeps no `Secure` cookie from such a page (a deployment serves it over TLS)"
        )


def sign_in_links(officer: str | None) -> int:
    """``./dev sign-in [OFFICER]``: a one-time sign-in link for a demo officer of the running system, made by the
    console from the officer's development token (what an identity provider's redirect does in production)."""
    state = read_state("system")
    if state is None or "console" not in state["services"]:
        print("system: not running with a console (`./dev run` starts it)", file=sys.stderr)
        return 1
    wanted = [officer] if officer else list(DEMO_OFFICERS)
    for who in wanted:
        path = state_file("system").with_name(f"officer-{who}.token")
        if not path.exists():
            print(f"no demo officer {who!r}: one of {', '.join(DEMO_OFFICERS)}", file=sys.stderr)
            return 2
        console = state["services"]["console"]
        request = urllib.request.Request(  # noqa: S310 - our own loopback URL
            f"{console}/sign-in-codes",
            method="POST",
            headers={"Authorization": f"Bearer {path.read_text().strip()}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own loopback URL
            made = json.loads(response.read())
        print(f"{who}: {console}{made['sign_in_path']}  (once, within {made['expires_in_s']} s)")
    return 0


def operations_token(signer: Signer | None, system: RunningSystem, say: Any = None) -> Path | None:
    """A development operator's token (the operations role only, 12 h) in a 0600 file: what ``/metrics``,
    ``/asyncapi.json`` and ``./dev dlq`` take. Returns the file (``None`` with a real identity provider, whose
    operators sign in there)."""
    say = say or announce
    if signer is None:
        say(
            "[system] operators: /metrics, /asyncapi.json and the dead-letter tools need a token with the 'ops' role "
            "from your identity provider"
        )
        return None
    token = signer.token(
        OPERATOR, expires_in=12 * 3600, roles=[OPERATIONS], aud=[*SYSTEM_AUDIENCES, "dlq"]
    )
    path = write_token("operations", token)
    example = next(iter(system.urls.values()), "http://127.0.0.1:<port>")
    scrape = prometheus_config(system.urls, path)
    say(
        f"[system] operators: a development token with the 'ops' role (12 h) is in {path}; e.g. curl -H "
        f'"Authorization: Bearer $(cat {path})" {example}/metrics; `./dev dlq` uses it; so does a Prometheus '
        f"scrape of this system: prometheus --config.file={scrape} --web.listen-address=127.0.0.1:9090"
    )
    return path


PROMETHEUS = CHECKOUT / "deploy" / "prometheus"


def prometheus_config(urls: Mapping[str, str], token: Path) -> Path:
    """``deploy/prometheus/prometheus.yml`` (written for compose's published ports) pointed at this run's services,
    its token file and its alert rules, in the run's own state directory."""
    import yaml

    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    config["scrape_configs"] = [
        {
            **jobs[name],
            "authorization": {**jobs[name]["authorization"], "credentials_file": str(token)},
            "static_configs": [{"targets": [url.removeprefix("http://")]}],
        }
        for name, url in urls.items()
    ]
    config["rule_files"] = [str(PROMETHEUS / name) for name in config["rule_files"]]
    path = private_dir(STATE_DIR) / "prometheus.yml"
    # made anew, its owner's only: it names the token file and every target
    path.unlink(missing_ok=True)
    write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
    return path


def summary(system: RunningSystem, clock: str) -> dict[str, Any]:
    """Where everything of a running system is (no secret: the secrets directory's path, not its content; the
    public keys and issuer the services verify tokens with)."""
    assert system.kafka is not None
    database = system.env.get("DATABASE_URL", "").partition("@")[2] or "(each service's own URL)"
    return {
        "clock": clock,
        "kafka": system.kafka.bootstrap_servers,
        "kafka_secrets_dir": str(system.kafka.secrets.directory) if system.kafka.secrets else None,
        "topic_prefix": system.env.get("TOPIC_PREFIX", ""),
        "database": database,
        "services": system.urls,
        "jwt_public_keys": system.env.get("JWT_PUBLIC_KEYS", "[]"),
        "jwt_issuer": system.env.get("JWT_ISSUER", ""),
    }


def summary_lines(state: dict[str, Any]) -> list[str]:
    lines = [
        f"[system] Kafka {state['kafka']} (SASL_SSL; CA and passwords in {state['kafka_secrets_dir']}), "
        f"PostgreSQL {redacted(state['database'])}, topic prefix {state['topic_prefix']!r}, clock {state['clock']}"
    ]
    lines += [
        f"[system]   {name}: {url} (/ready, /metrics with a token)"
        for name, url in state["services"].items()
    ]
    return lines


def run_system(*, clock: str = "system", data_dir: Path | None = None, brokers: int = 1) -> int:
    launcher_logging(sys.stdout.isatty())
    stopping = stop_requested()
    extra: dict[str, str] = {}
    signer = development_officers(extra)
    with running_system(
        clock=clock,
        data_dir=data_dir,
        extra_env=extra,
        brokers=brokers,
        readable=sys.stdout.isatty(),
    ) as system:
        state = summary(system, clock)
        write_state("system", **state)
        try:
            announce(
                f"[system] running {', '.join(system.children) or 'no services'} (clock: {clock}); Ctrl-C stops "
                "everything; `./dev status` prints where each part is"
            )
            for line in summary_lines(state):
                announce(line)
            say_sign_in_links(signer, system)
            operations_token(signer, system)
            while not stopping.wait(1.0):
                if (gone := system.exited()) is not None:
                    announce(
                        f"[system] {gone} exited with code {system.children[gone].returncode}; stopping"
                    )
                    stopping.set()
            return (
                0
                if all(c.poll() in (None, 0, -signal.SIGTERM) for c in system.children.values())
                else 1
            )
        finally:
            state_file("system").unlink(missing_ok=True)


def status() -> int:
    """``./dev status``: the running system's addresses and each service's readiness."""
    state = read_state("system")
    if state is None:
        print("system: not running (`./dev run` starts it)")
        return 1
    for line in summary_lines(state):
        print(line.removeprefix("[system] "))
    ready = True
    for name, url in state["services"].items():
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=3) as response:  # noqa: S310 - our own loopback URL
                answer = f"ready ({response.status})"
        except urllib.error.HTTPError as exc:
            answer, ready = (
                f"NOT ready ({exc.code}): {exc.read().decode(errors='replace')[:300]}",
                False,
            )
        except OSError as exc:
            answer, ready = f"not answering ({type(exc).__name__})", False
        print(f"{name}: {answer}")
    if (
        "console" in state["services"]
        and state_file("system").with_name(f"officer-{next(iter(DEMO_OFFICERS))}.token").exists()
    ):
        print(
            f"the officers' console: {state['services']['console']}/ui/ ; a one-time sign-in link for:"
        )
        for officer, roles in DEMO_OFFICERS.items():
            print(f"  ./dev sign-in {officer}   ({', '.join(roles) or 'no role: all staff'})")
    return 0 if ready else 1


def dead_letters(argv: list[str]) -> int:
    """``./dev dlq ...``: the dead-letter tool of the system ``./dev run`` started, as the dead-letter replayer,
    for the development operator whose token ``./dev run`` wrote (``DLQ_OPERATOR_TOKEN_FILE`` names another)."""
    from servicekit.tools.dlq import DlqSettings
    from servicekit.tools.dlq import main as dlq
    from servicekit.tools.localsecrets import KafkaSecrets

    if {"-h", "--help"} & set(argv) or not argv:
        return asyncio.run(dlq(argv or ["--help"]))
    state = read_state("system")
    if state is None:
        print(
            "system: not running (`./dev run` starts it); against another cluster run `python -m servicekit.tools.dlq` "
            "with the DLQ_* settings",
            file=sys.stderr,
        )
        return 1
    secrets = KafkaSecrets(Path(state["kafka_secrets_dir"])) if state["kafka_secrets_dir"] else None
    token = os.environ.get("DLQ_OPERATOR_TOKEN_FILE") or str(
        state_file("system").with_name("operations.token")
    )
    settings = DlqSettings(
        **KafkaAccess(state["kafka"], secrets).settings(DLQ_REPLAYER),
        topic_prefix=state["topic_prefix"],
        operator_token_file=Path(token),
        seal_keys_dir=secrets.seals if secrets is not None else None,
        jwt_public_keys=json.loads(state.get("jwt_public_keys", "[]")),
        jwt_issuer=state.get("jwt_issuer", ""),
    )
    return asyncio.run(dlq(argv, settings))


UPSTREAM = frozenset(upstream(CATALOGUE))
"""The principals of the systems upstream of ours (``contracts.access.upstream``): ``./dev publish`` writes as
these, never as a service or the console (an officer's request carries a verified identity only when the console
writes it)."""


async def outcome_of(reader: Any, event_id: str, timeout_s: float = 30.0) -> str:
    """What became of event ``event_id``, as its outcome says it (docs/integration.md), once it arrives."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for records in (await reader.getmany(timeout_ms=500)).values():
            for record in records:
                for told in json.loads(record.value)["answers"]:
                    if told.get("event_id") == event_id:
                        reason = f" ({told['reason_code']})" if told.get("reason_code") else ""
                        detail = f": {told['detail']}" if told.get("detail") else ""
                        return f"answered: {told['outcome']}{reason}{detail}"
    return f"no answer within {timeout_s:.0f} s: is the service that reads it running? (`./dev status`)"


def upstream_topic(event_type: str) -> Topic:
    """The catalogue topic an upstream system publishes ``event_type`` on."""
    for topic in CATALOGUE.topics:
        if topic.producer in UPSTREAM and event_type in topic.event_types:
            return topic
    raise SystemExit(
        f"{event_type!r} is not an upstream event: ./dev publish sends PaymentAttempted or MspApproved "
        "(staff actions go through the console)"
    )


def publish(files: list[str]) -> int:
    """``./dev publish FILE...``: each file's event, as its upstream system would send it, to the system ``./dev
    run`` started: on its topic, keyed by its key field, as the topic's producer (``payments-system`` or
    ``msp-approvals``), checked against its contract first."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from servicekit.tools.localsecrets import KafkaSecrets

    state = read_state("system")
    if state is None:
        print("system: not running (`./dev run` starts it)", file=sys.stderr)
        return 1
    secrets = KafkaSecrets(Path(state["kafka_secrets_dir"])) if state["kafka_secrets_dir"] else None
    access = KafkaAccess(state["kafka"], secrets)
    now = datetime.now(UTC).isoformat()

    async def send(principal: str, topic: str, event: Event, answers: str) -> str:
        """Publish, as ``principal``, and wait for the record's outcome on ``answers`` (read as the principal, with
        no group: nothing of the upstream's own group is moved)."""
        reader = AIOKafkaConsumer(
            **access.client(principal), group_id=None, enable_auto_commit=False
        )
        producer = AIOKafkaProducer(**access.client(principal), acks="all", enable_idempotence=True)
        await reader.start()
        await producer.start()
        try:
            reader.assign(
                [TopicPartition(answers, p) for p in await producer.partitions_for(answers)]
            )
            await reader.seek_to_end()
            await producer.send_and_wait(
                topic,
                event.to_json(),
                key=event.key.encode(),
                headers=[("content-type", b"application/json")],
            )
            return await outcome_of(reader, str(event.event_id))
        finally:
            await producer.stop()
            await reader.stop()

    for path in files:
        body = json.loads(Path(path).read_text())
        topic = upstream_topic(str(body.get("event_type")))
        answers = CATALOGUE.outcomes_of(topic.name)
        assert answers is not None  # an upstream topic is answered
        try:
            event = topic.parse(json.dumps(with_envelope(body, topic.producer, now)).encode())
        except ContractError as exc:
            print(f"{path}: not sent, its topic's contract refuses it: {exc}", file=sys.stderr)
            return 2
        print(
            f"publishing {event.event_type} {event.key} on {topic.name} as {topic.producer} "
            f"(event {event.event_id}, correlation {event.correlation_id})",
            flush=True,
        )
        told = asyncio.run(
            send(
                topic.producer,
                state["topic_prefix"] + topic.name,
                event,
                state["topic_prefix"] + answers.name,
            )
        )
        print(told, flush=True)
    return 0
