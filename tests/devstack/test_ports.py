"""`./dev run` and `./dev demo` start nothing when a service's port is taken, and say by whom (issue 29: a second
system on one machine reported "ready" from the first one's services)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from devstack.kafka import KafkaAccess
from devstack.procs import ephemeral_ports, free_port, listening_ports, port_taken_by
from devstack.system import RunningSystem, child_environment, refuse_taken_ports
from servicekit.tools.localsecrets import KafkaSecrets

pytestmark = pytest.mark.unit


def test_a_taken_port_is_refused_naming_its_holder_and_a_free_one_is_not():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        holder = port_taken_by(port)
        assert holder is not None
        assert f"pid {os.getpid()}" in holder or "another process" in holder
        with pytest.raises(SystemExit, match=f"expenses's port {port} is taken by"):
            refuse_taken_ports({"expenses": port})
    assert port_taken_by(free_port()) is None
    refuse_taken_ports({"expenses": free_port()})


def _service_env(tmp_path, port: int) -> dict[str, str]:
    """What the launcher gives expenses, on a broker and a database that answer nothing: enough to start it."""
    kafka = KafkaAccess(
        "127.0.0.1:9", KafkaSecrets.ensure(tmp_path / "kafka", ["admin", "expenses"])
    )
    base = {
        **os.environ,
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/postgres",
        "LOG_PSEUDONYM_KEY": "ab" * 32,
    }
    return child_environment("expenses", base, kafka, None, port)


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "expenses"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.integration
def test_a_service_that_cannot_bind_its_port_exits_at_once_naming_the_port(tmp_path):
    """Issue 29: "a service that cannot bind exits" (before it joins anything: it binds first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        child = _start(_service_env(tmp_path, port))
        try:
            out, _ = child.communicate(timeout=120)
        finally:
            child.kill()
    assert child.returncode == 1
    assert f"expenses: not started: cannot listen on 127.0.0.1:{port}" in out.decode()


@pytest.mark.integration
def test_the_launcher_reads_a_free_port_off_its_own_child_and_never_trusts_another_holder(tmp_path):
    """Issue 29: "free ports by default", "readiness checked against the launcher's own children": port 0 makes
    the child take a free port, which the launcher reads off the child's pid; a port another process holds is
    not taken for the child's."""
    child = _start(_service_env(tmp_path, 0))
    system = RunningSystem({}, children={"expenses": child})
    try:
        system.find_ports({"expenses": 0}, timeout=120)
        port = system.ports["expenses"]
        assert port != 0
        assert port in listening_ports(child.pid)
        assert system.urls == {"expenses": f"http://127.0.0.1:{port}"}
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
            other.bind(("127.0.0.1", 0))
            other.listen()
            elsewhere = other.getsockname()[1]
            with pytest.raises(TimeoutError, match=f"is not listening on port {elsewhere}"):
                system.find_ports({"expenses": elsewhere}, timeout=1)
    finally:
        child.kill()
        child.wait()
    with pytest.raises(RuntimeError, match="expenses exited with code"):
        system.find_ports({"expenses": 0}, timeout=5)


def test_a_free_port_for_a_server_is_drawn_outside_the_range_clients_connect_from():
    """A port the kernel hands out for bind(0) is also the kind a client's connection takes: a cluster node
    once lost its port that way between choosing and binding it."""
    low, high = ephemeral_ports()
    ports = {free_port() for _ in range(20)}
    assert all(10000 <= p < low or p > high for p in ports), sorted(ports)
    for port in ports:
        assert port_taken_by(port) is None
