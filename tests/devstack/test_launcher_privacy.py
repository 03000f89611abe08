"""What the launchers leave for other local users to see: no secret in a process listing, nothing readable in a
data directory (issue 26: "Every SCRAM password, the admin's included, is on a world-readable command line while
the storage is formatted"; "`./dev run --data-dir DIR` leaves the broker's segment files world-readable and
widens DIR's parent folders").

One broker and one database are started here into a data directory of their own: the run's shared broker may be
a container, and only a fresh directory shows what formatting it does."""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devstack import LocalKafka, LocalPostgres
from devstack.system import child_environment

pytestmark = pytest.mark.integration


class ProcessListing:
    """Every command line and environment on the machine, read again and again until stopped (what ``ps`` and
    ``/proc`` show)."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in (p for p in os.listdir("/proc") if p.isdigit()):
                for part in ("cmdline", "environ"):
                    with contextlib.suppress(OSError):  # gone already, or not ours to read
                        self.seen.add(Path(f"/proc/{pid}/{part}").read_bytes())
            self._stop.wait(0.005)

    @contextmanager
    def watching(self) -> Iterator[ProcessListing]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()

    def showing(self, text: str) -> list[str]:
        return [
            s.replace(b"\0", b" ").decode(errors="replace")[:200]
            for s in self.seen
            if text.encode() in s
        ]


def secrets_in(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text().strip()
        for p in folder.rglob("*")
        if p.is_file() and (p.suffix == ".password" or p.name.endswith(".key"))
    }


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ProcessListing]:
    parent = tmp_path_factory.mktemp("private")
    parent.chmod(0o700)
    data_dir = parent / "msp-im" / "data"  # missing, as `./dev run --data-dir` may be given it
    listing = ProcessListing()
    with listing.watching():
        broker = LocalKafka.start(data_dir / "kafka", heap_mb=256, quick_start=True)
        try:
            database = LocalPostgres.start(data_dir / "postgres", durable=False)
            database.stop(keep_data=True)
        finally:
            broker.stop(keep_data=True)
    return parent, data_dir, listing


def test_no_password_is_on_a_command_line_or_in_an_environment_while_the_servers_start(started):
    _, data_dir, listing = started
    secrets = secrets_in(data_dir)
    assert any(name.endswith("users/admin.password") for name in secrets)
    assert "postgres/superuser.password" in secrets
    assert listing.showing("StorageTool") or listing.showing(".storage-format-"), (
        "the sampler saw the format step"
    )
    assert listing.showing("initdb"), "the sampler saw the database's initialisation"
    shown = {name: listing.showing(value) for name, value in secrets.items()}
    assert not {name: lines for name, lines in shown.items() if lines}


def test_every_folder_and_file_the_launchers_make_is_their_owners_alone_and_no_parent_is_widened(
    started,
):
    parent, data_dir, _ = started
    assert stat.S_IMODE(parent.stat().st_mode) == 0o700, (
        "the given folder's parent is never chmod-ed"
    )
    made = [data_dir.parent, *data_dir.rglob("*"), data_dir]
    assert len(made) > 20
    assert any("kafka" in p.parts and p.suffix == ".log" for p in made), "segments were written"
    opened = {
        str(p): oct(stat.S_IMODE(p.lstat().st_mode))
        for p in made
        if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077
    }
    assert not opened, "group or others may read these"


def test_an_unprivileged_user_reads_nothing_of_the_data_directory(started):
    _parent, data_dir, _ = started
    assert os.geteuid() == 0, (
        "this test switches to the unprivileged user `nobody`: run the suite as root (CI does)"
    )
    paths = [str(p) for p in [data_dir, *data_dir.rglob("*")]]
    # the shell's own tests and `head`: nothing of the checkout (whose interpreter nobody may reach) is needed
    reader = (
        'for p; do if [ -d "$p" ]; then ls "$p" >/dev/null 2>&1 && echo "$p"; '
        'else head -c1 "$p" >/dev/null 2>&1 && echo "$p"; fi; done; exit 0'
    )
    nobody = pwd.getpwnam("nobody").pw_uid
    out = subprocess.run(
        ["/bin/sh", "-c", reader, "reader", *paths],
        capture_output=True,
        text=True,
        user=nobody,
        check=True,
        cwd="/",
    )
    assert out.stdout.split() == []
    # and the same reader, as the owner, reads them all: it can tell
    owner = subprocess.run(
        ["/bin/sh", "-c", reader, "reader", *paths[:5]], capture_output=True, text=True, check=True
    )
    assert len(owner.stdout.split()) == 5


def test_the_services_are_handed_files_of_secrets_never_the_secrets(tmp_path):
    from devstack.kafka import KafkaAccess
    from servicekit.tools.localsecrets import KafkaSecrets

    kafka = KafkaAccess(
        "127.0.0.1:9", KafkaSecrets.ensure(tmp_path / "kafka", ["admin", "expenses"])
    )
    own = {
        "EXPENSES_DATABASE_URL": "postgresql://expenses@127.0.0.1:5/postgres",
        "EXPENSES_DATABASE_PASSWORD_FILE": str(tmp_path / "db-expenses.password"),
    }
    base = {
        "DATABASE_URL": "postgresql://postgres:the-admins-password@127.0.0.1:5/postgres",
        "PATH": "/usr/bin",
    }
    env = child_environment("expenses", base, kafka, own, 8082)
    values = "\n".join(env.values())
    assert "the-admins-password" not in values, "the administrator's URL stays with the launcher"
    assert kafka.secrets is not None
    assert kafka.secrets.password("expenses") not in values
    assert kafka.secrets.password("admin") not in values
    assert env["EXPENSES_KAFKA_SASL_PASSWORD_FILE"].endswith("expenses.password")
    assert env["EXPENSES_DATABASE_PASSWORD_FILE"] == own["EXPENSES_DATABASE_PASSWORD_FILE"]
