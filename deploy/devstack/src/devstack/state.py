"""What a running launcher tells the others: a small JSON file per kind (``kafka``, ``postgres``, ``system``) in the
cache, mode 0600, valid while the launcher that wrote it lives."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from devstack.procs import cache_root

STATE_DIR = cache_root() / "run"


def state_file(kind: str) -> Path:
    return STATE_DIR / f"{kind}.json"


def write_state(kind: str, **state: Any) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    state_file(kind).touch(mode=0o600)  # an address may carry a password
    state_file(kind).write_text(json.dumps({"pid": os.getpid(), **state}))


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
