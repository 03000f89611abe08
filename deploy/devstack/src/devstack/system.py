"""Runs the whole system on embedded defaults: broker, database, and every installed service."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from devstack.procs import die_with_parent, stop_process, stop_requested

# service package -> HTTP port for /health, /ready, /metrics, /asyncapi.json
SERVICES = {"notification": 8081, "expenses": 8082, "workitems": 8083}


def installed_services() -> dict[str, int]:
    return {name: port for name, port in SERVICES.items() if importlib.util.find_spec(name) is not None}


def run_system(*, clock: str = "system", data_dir: Path | None = None) -> int:
    stopping = stop_requested()
    started: list[Any] = []
    children: list[subprocess.Popen[bytes]] = []
    env = dict(os.environ, CLOCK=clock)
    try:
        if not env.get("KAFKA_BOOTSTRAP_SERVERS"):
            from devstack.kafka import LocalKafka

            kafka = LocalKafka.start(data_dir / "kafka" if data_dir else None)
            started.append(kafka)
            env["KAFKA_BOOTSTRAP_SERVERS"] = kafka.bootstrap_servers
            print(f"[system] Apache Kafka {kafka.version} at {kafka.bootstrap_servers}", flush=True)
        if not env.get("DATABASE_URL"):
            from devstack.postgres import LocalPostgres

            pg = LocalPostgres.start(data_dir / "postgres" if data_dir else None)
            started.append(pg)
            env["DATABASE_URL"] = pg.url
            print(f"[system] PostgreSQL {pg.version} at 127.0.0.1:{pg.port}", flush=True)
        services = installed_services()
        for name, port in services.items():
            child_env = dict(env, **{f"{name.upper()}_HTTP_PORT": str(port)})
            children.append(subprocess.Popen([sys.executable, "-m", name], env=child_env,
                                             preexec_fn=die_with_parent(signal.SIGTERM)))  # noqa: PLW1509
            print(f"[system] {name}: http://127.0.0.1:{port}/ready", flush=True)
        print(f"[system] running {', '.join(services) or 'no services'} (clock: {clock}); Ctrl-C stops everything",
              flush=True)
        while not stopping.wait(1.0):
            for child, name in zip(children, services, strict=True):
                if child.poll() is not None:
                    print(f"[system] {name} exited with code {child.returncode}; stopping", flush=True)
                    stopping.set()
        return 0 if all(c.poll() in (None, 0, -signal.SIGTERM) for c in children) else 1
    finally:
        print("[system] stopping ...", flush=True)
        for child in children:
            stop_process(child, signal.SIGTERM)
        for server in reversed(started):
            server.stop(keep_data=data_dir is not None)
