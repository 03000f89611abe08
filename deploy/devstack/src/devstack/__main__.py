"""Command line for the local servers and the whole system.

    python -m devstack kafka start|stop|status      a broker in the foreground until Ctrl-C
    python -m devstack postgres start|stop|status   a database in the foreground until Ctrl-C
    python -m devstack system [--clock simulated]   broker, database and every service, until Ctrl-C
    python -m devstack demo                         the same with the simulated clock; replays scenarios/*.json
    python -m devstack status                       what `./dev run` started, where, and whether it is ready
    python -m devstack dlq list|show|replay ...     the dead letters of that system (python -m servicekit.tools.dlq)
    python -m devstack images [--public]            the container images, built with the local Docker engine

``start`` runs in the foreground and never leaves a server behind: Ctrl-C, SIGTERM from
``stop`` in another terminal, or the death of this process all stop the server.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from devstack.backup import redacted
from devstack.postgres import PASSWORD_FILE
from devstack.procs import port_open, stop_requested
from devstack.state import read_state as _read_state
from devstack.state import state_file as _state_file
from devstack.state import write_state as _write_state


def _start(kind: str, data_dir: str | None, port: int | None) -> int:
    if _read_state(kind):
        print(f"{kind} is already running (see `status`)", file=sys.stderr)
        return 1
    workdir = Path(data_dir) if data_dir else None
    server: Any
    if kind == "kafka":
        from devstack.kafka import LocalKafka

        server = LocalKafka.start(workdir, port)
        address = server.bootstrap_servers
        print(
            f"Apache Kafka {server.version} ready at {address}: SASL_SSL, ACLs enforced\n"
            f"  export KAFKA_BOOTSTRAP_SERVERS={address} KAFKA_SECRETS_DIR={server.secrets.directory}\n"
            "  (its CA and every principal's password; `./dev run` and the tests provision topics and ACLs with it)"
        )
    else:
        from devstack.postgres import LocalPostgres

        server = LocalPostgres.start(workdir, port)
        address = server.url
        print(
            f"PostgreSQL {server.version} ready at {redacted(address)}\n"
            f"  its superuser's password is in {server.workdir / PASSWORD_FILE} (yours only); the tools of this "
            "checkout (`./dev backup`, `./dev run`'s services) find it themselves"
        )
    print("Ctrl-C (or `stop` from another terminal) stops it.", flush=True)
    _write_state(kind, address=address, port=server.port, log=str(server.log_path))
    try:
        stop_requested().wait()
    finally:
        print(f"stopping {kind} ...", flush=True)
        server.stop(keep_data=workdir is not None)
        _state_file(kind).unlink(missing_ok=True)
    return 0


def _status(kind: str) -> int:
    state = _read_state(kind)
    if state is None:
        print(f"{kind}: not running")
        return 1
    answering = port_open(int(state["port"]))
    print(
        f"{kind}: running (launcher pid {state['pid']}) at {redacted(str(state['address']))}, "
        f"{'answering' if answering else 'NOT answering'}; log {state['log']}"
    )
    return 0 if answering else 1


def _stop(kind: str) -> int:
    state = _read_state(kind)
    if state is None:
        print(f"{kind}: not running")
        return 0
    os.kill(int(state["pid"]), signal.SIGTERM)
    for _ in range(600):
        if _read_state(kind) is None:
            print(f"{kind}: stopped")
            return 0
        time.sleep(0.1)
    print(f"{kind}: launcher {state['pid']} did not stop within 60s", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] in (
        ["backup"],
        ["restore"],
    ):  # the services' schemas, with the embedded server's tools
        from devstack.backup import main as backup_main

        return backup_main(given)
    if given[:1] == ["dlq"]:  # its own options and --help are the dead-letter tool's
        from devstack.system import dead_letters

        return dead_letters(given[1:])
    parser = argparse.ArgumentParser(
        prog="devstack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    for kind in ("kafka", "postgres"):
        p = sub.add_parser(kind)
        p.add_argument("action", choices=["start", "stop", "status"])
        p.add_argument(
            "--data-dir", help="keep data here across starts (default: a temporary folder)"
        )
        p.add_argument("--port", type=int)
    system = sub.add_parser("system", help="broker, database and all services until Ctrl-C")
    system.add_argument(
        "--clock",
        choices=["system", "simulated"],
        default="system",
        help="system: the real time; simulated: each service's own clock, moved by POST /clock with an "
        "operator's token (the demo's runner does)",
    )
    system.add_argument("--data-dir", help="keep the broker's and database's data here across runs")
    system.add_argument(
        "--brokers",
        type=int,
        default=1,
        help="a cluster of this many Kafka nodes (3: replication 3, min.insync.replicas 2)",
    )
    demo = sub.add_parser(
        "demo",
        help="the system with the simulated clock, every bundled scenario replayed and checked",
    )
    demo.add_argument(
        "--stay",
        action="store_true",
        help="keep the system running after the replay (for the console)",
    )
    sub.add_parser(
        "status", help="what `./dev run` started: addresses, ports and each service's readiness"
    )
    dlq = sub.add_parser(
        "dlq",
        help="the dead letters of the system `./dev run` started (python -m servicekit.tools.dlq)",
        add_help=False,
    )
    dlq.add_argument("rest", nargs=argparse.REMAINDER)
    sign_in = sub.add_parser(
        "sign-in", help="a one-time console sign-in link for a demo officer of `./dev run`"
    )
    sign_in.add_argument(
        "officer", nargs="?", help="OFF-MSP-1, OFF-ADM-1 or OFF-IM-1 (all, when left out)"
    )
    publish = sub.add_parser(
        "publish",
        help="publish an upstream event (a JSON body: docs/examples/) to `./dev run`, as its upstream system",
    )
    publish.add_argument(
        "files", nargs="+", help='JSON bodies without the envelope ("now" is the current instant)'
    )
    images = sub.add_parser(
        "images", help="build the container images (deploy/images) with the local Docker engine"
    )
    images.add_argument(
        "--public", action="store_true", help="on public bases from a registry, not a local one"
    )
    args = parser.parse_args(argv)
    if args.what == "images":
        from devstack.images import build_images

        build_images(public=args.public)
        return 0
    if args.what == "demo":
        from devstack.demo import main as run_demo

        return run_demo(stay=args.stay)
    if args.what == "status":
        from devstack.system import status

        return status()
    if args.what == "sign-in":
        from devstack.system import sign_in_links

        return sign_in_links(args.officer)
    if args.what == "publish":
        from devstack.system import publish as publish_events

        return publish_events(args.files)
    if args.what == "dlq":
        from devstack.system import dead_letters

        return dead_letters(args.rest)
    if args.what == "system":
        from devstack.system import run_system

        return run_system(
            clock=args.clock,
            data_dir=Path(args.data_dir) if args.data_dir else None,
            brokers=args.brokers,
        )
    if args.action == "start":
        return _start(args.what, args.data_dir, args.port)
    return _status(args.what) if args.action == "status" else _stop(args.what)


if __name__ == "__main__":
    sys.exit(main())
