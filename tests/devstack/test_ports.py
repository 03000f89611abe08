"""`./dev run` and `./dev demo` start nothing when a service's port is taken, and say by whom (issue 29: a second
system on one machine reported "ready" from the first one's services)."""

from __future__ import annotations

import os
import socket

import pytest

from devstack.procs import free_port, port_taken_by
from devstack.system import refuse_taken_ports

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
