"""``./dev backup FILE`` and ``./dev restore FILE``: the services' schemas dumped and restored with the client tools
of the embedded server (the ``pg_dump`` on ``PATH`` may be older and refuse it), the password handed through a
private ``PGPASSFILE``, never on a command line or printed.

The database is ``DATABASE_URL`` if set, else the one a running ``./dev run`` or ``./dev postgres start`` of this
checkout serves. A restore replaces the schemas, so it refuses while ``./dev run`` runs: stop it, start the
database alone on the same data (``./dev postgres start --data-dir <data-dir>/postgres``), restore, stop it, and
run again. Each service then re-reads from the positions the restored schema holds (docs/operations.md, "Backup
and restore")."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from devstack.postgres import POSTGRES_BIN_PATH
from devstack.state import read_state
from servicekit.tools.localsecrets import write_private

SCHEMAS = ("expenses", "notification", "workitems", "console")
"""Every service's schema: its state, inbox, outbox and consumer positions."""


def database_url() -> str:
    """The database to back up or restore: ``DATABASE_URL``, or this checkout's running local server."""
    if url := os.environ.get("DATABASE_URL"):
        return url
    for kind, field in (("system", "database"), ("postgres", "address")):
        state = read_state(kind)
        if state is not None:
            return str(state[field])
    raise SystemExit(
        "no database: set DATABASE_URL, or start one (`./dev run`, `./dev postgres start`)"
    )


def redacted(url: str) -> str:
    """``url`` with its password replaced, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def _passfile(url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The URL without its password, and an environment whose ``PGPASSFILE`` (0600, removed after) holds it."""
    parts = urlsplit(url)
    if parts.password is None:
        yield url, dict(os.environ)
        return
    host, port = parts.hostname or "localhost", parts.port or 5432
    database = parts.path.lstrip("/") or "*"
    user = unquote(parts.username or "*")
    line = ":".join(
        v.replace("\\", "\\\\").replace(":", "\\:")
        for v in (host, str(port), database, user, unquote(parts.password))
    )
    with tempfile.TemporaryDirectory(prefix="pgpass-") as folder:
        passfile = Path(folder) / "pgpass"
        write_private(passfile, (line + "\n").encode())
        bare = urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}@{host}:{port}"))
        yield bare, {**os.environ, "PGPASSFILE": str(passfile)}


def _tool(tool: str, args: Sequence[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(POSTGRES_BIN_PATH / tool), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def backup(file: Path, url: str, schemas: Sequence[str] = SCHEMAS) -> None:
    """One consistent snapshot of ``schemas`` (``pg_dump`` reads in one transaction: the services may run), in a
    file that is its owner's only (it holds personal data); none is left behind by a failure."""
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    os.close(fd)
    try:
        with _passfile(url) as (bare, env):
            _tool(
                "pg_dump",
                [
                    "--format=custom",
                    *(f"--schema={s}" for s in schemas),
                    f"--file={file}",
                    f"--dbname={bare}",
                ],
                env,
            )
    except BaseException:
        file.unlink(missing_ok=True)
        raise


def restore(file: Path, url: str, schemas: Sequence[str] = SCHEMAS) -> None:
    """Replace ``schemas`` with the backup's (the services stopped)."""
    with _passfile(url) as (bare, env):
        drop = "; ".join(f'DROP SCHEMA IF EXISTS "{s}" CASCADE' for s in schemas)
        _tool(
            "psql",
            ["--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", f"--dbname={bare}", "-c", drop],
            env,
        )
        _tool("pg_restore", ["--exit-on-error", f"--dbname={bare}", str(file)], env)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="./dev backup|restore", description=__doc__)
    parser.add_argument("action", choices=["backup", "restore"])
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    url = database_url()
    if args.action == "backup":
        backup(args.file, url)
        print(f"backed up {', '.join(SCHEMAS)} of {redacted(url)} to {args.file}")
        return 0
    if read_state("system") is not None:
        print(
            "the services are running (`./dev run`): stop them, start the database alone on the same data "
            "(`./dev postgres start --data-dir <data-dir>/postgres`), then restore",
            file=sys.stderr,
        )
        return 1
    restore(args.file, url)
    print(
        f"restored {', '.join(SCHEMAS)} of {redacted(url)} from {args.file}; the services re-read from there"
    )
    return 0
