"""Process helpers shared by the Kafka and PostgreSQL launchers."""

from __future__ import annotations

import ctypes
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child receive ``sig`` when the process that started it dies.

    This is what keeps a JVM or a postmaster from outliving a test run killed with ``kill -9``.
    The kernel ties the signal to the *thread* that forked, so start servers from the main thread.
    """

    def _preexec() -> None:
        os.setpgrp()  # Ctrl-C in a terminal goes to the parent only; the parent stops us in order.
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if (
            libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0
        ):  # pragma: no cover - Linux always accepts
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")

    return _preexec


def private_log(path: Path, uid: int | None = None) -> int:
    """A log file readable by its owner only (the server's user, where given), opened for appending."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    if uid is not None:
        os.fchown(fd, uid, -1)
    return fd


def record_pid(pid: int) -> None:
    """Append to ``$DEVSTACK_PIDFILE`` (set by the test command), which checks that no server outlives the run."""
    path = os.environ.get("DEVSTACK_PIDFILE")
    if path:
        with open(path, "a") as f:
            f.write(f"{pid}\n")


def stop_requested() -> threading.Event:
    """An event set by the first SIGINT (Ctrl-C) or SIGTERM (``stop`` from another terminal)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes a client connection's local port from (Linux; the usual one elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A loopback port free to listen on, for a server started next (a broker node, a service). Drawn from outside the
    kernel's ephemeral range: a port the kernel chose (``bind(0)``) can be taken by any client's outgoing
    connection before the server binds it (seen: a cluster node failing with "Address already in use" while the
    test suite's clients were busy); one below the range never is."""
    low, _ = ephemeral_ports()
    for _ in range(200):
        port = random.randrange(10000, max(low, 10001))  # noqa: S311 - a port, not a secret
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_taken_by(port: int, host: str = "127.0.0.1") -> str | None:
    """Who holds ``port`` (a process, named by its pid and command, where the system says), or ``None`` when it
    is free to bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # as the services' server binds (TIME_WAIT is free)
        try:
            s.bind((host, port))
        except OSError:
            pass
        else:
            return None
    import psutil

    try:
        holders = {
            c.pid
            for c in psutil.net_connections(kind="tcp")
            if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN and c.pid
        }
    except (psutil.AccessDenied, OSError):
        holders = set()
    for pid in sorted(holders):
        try:
            return f"pid {pid} ({' '.join(psutil.Process(pid).cmdline())[:120]})"
        except psutil.Error:
            return f"pid {pid}"
    return "another process (the system does not say which)"


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (what a child given port 0 took)."""
    import psutil

    try:
        return {
            c.laddr.port
            for c in psutil.Process(pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr
        }
    except psutil.Error:
        return set()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes],
    log: Path,
) -> None:
    """Poll ``check`` until it passes; fail loudly (with the server's log) if the server dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{what} exited with code {proc.returncode} while starting:\n{tail(log)}"
            )
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f}s:\n{tail(log)}")


def stop_process(proc: subprocess.Popen[bytes], sig: int, timeout: float = 30.0) -> None:
    """Send ``sig`` and wait; escalate to SIGKILL after ``timeout`` so nothing is left running."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "msp-im"
