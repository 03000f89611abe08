"""What a running launcher tells the others: a small JSON file per kind (``kafka``, ``postgres``, ``system``) in the
cache, per checkout, mode 0600, valid while the launcher that wrote it lives."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from devstack.procs import cache_root
from servicekit.tools.localsecrets import private_dir, write_private

CHECKOUT = Path(__file__).resolve().parents[4]
STATE_DIR = cache_root() / "run" / hashlib.sha256(str(CHECKOUT).encode()).hexdigest()[:12]
"""One per checkout: two checkouts' systems on one machine never read each other's state or tokens."""


def state_file(kind: str) -> Path:
    return STATE_DIR / f"{kind}.json"


def write_state(kind: str, **state: Any) -> None:
    private_dir(STATE_DIR)
    state_file(kind).touch(mode=0o600)  # an address may carry a password
    state_file(kind).write_text(json.dumps({"pid": os.getpid(), **state}))


def write_token(name: str, token: str) -> Path:
    """A bearer token for the tools of a running launcher (``./dev dlq``, a scrape), its owner's only."""
    path = private_dir(STATE_DIR) / f"{name}.token"
    path.unlink(missing_ok=True)
    write_private(path, token.encode())
    return path


def read_state(kind: str) -> dict[str, Any] | None:
    """The state a live launcher wrote; ``None`` when there is none, or its launcher is gone."""
    try:
        state: dict[str, Any] = json.loads(state_file(kind).read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(state["pid"]), 0)
    except OSError:
        return None
    return state
