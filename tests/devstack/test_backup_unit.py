"""``./dev backup`` and ``./dev restore`` (issue 39): the password reaches the client tools through a private
``PGPASSFILE``, never a command line or a printed line, and a backup is its owner's only."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devstack import backup

pytestmark = pytest.mark.unit

URL = "postgresql://postgres:s3cr%3At@127.0.0.1:5544/postgres"


def test_the_password_goes_through_a_private_passfile_never_a_command_line(
    monkeypatch, tmp_path: Path
):
    seen: list[tuple[list[str], str, int]] = []

    def run(args: list[str], env: dict[str, str], **_: Any) -> subprocess.CompletedProcess[str]:
        passfile = Path(env["PGPASSFILE"])
        seen.append((args, passfile.read_text(), stat.S_IMODE(passfile.stat().st_mode)))
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(subprocess, "run", run)
    dump = tmp_path / "services.dump"
    backup.backup(dump, URL)
    backup.restore(dump, URL)
    assert [Path(a[0]).name for a, _, _ in seen] == ["pg_dump", "psql", "pg_restore"]
    for args, passfile, mode in seen:
        assert not any("s3cr" in a for a in args), "no password on a command line"
        assert "--dbname=postgresql://postgres@127.0.0.1:5544/postgres" in args
        assert passfile == "127.0.0.1:5544:postgres:postgres:s3cr\\:t\n"
        assert mode == 0o600
    assert stat.S_IMODE(os.stat(dump).st_mode) == 0o600, (
        "a backup holds personal data: its owner's only"
    )
    assert backup.redacted(URL) == "postgresql://postgres:***@127.0.0.1:5544/postgres"


def test_a_failed_backup_leaves_no_file(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(
        subprocess, "run", lambda args, **_: subprocess.CompletedProcess(args, 1, "", "refused")
    )
    dump = tmp_path / "services.dump"
    with pytest.raises(SystemExit, match="pg_dump failed"):
        backup.backup(dump, URL)
    assert not dump.exists()
