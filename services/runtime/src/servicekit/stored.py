"""Stored state is not the wire contract: each service's state row says the version it was written at, and is read
through that service's upcasters up to the version its code knows. A row newer than the code (a rollback after a
migration) is refused loudly rather than misread."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class Stored(BaseModel):
    """Base of a service's own stored model: immutable, strict about unknown fields, and no kin of the wire contract
    (a contract's new version never changes what a stored row means; a stored shape changes by its own version)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def upcast_row(
    raw: str | bytes, current: int, upcasters: Mapping[int, Upcaster], what: str
) -> dict[str, Any]:
    """``raw`` (a JSON object; one without ``version`` is of version 1) as a row of version ``current``."""
    row: dict[str, Any] = json.loads(raw)
    version = row.get("version", 1)
    if not isinstance(version, int) or not 1 <= version <= current:
        raise ValueError(
            f"stored {what} of version {version!r}: this code reads versions 1 to {current}"
        )
    while version < current:
        row = upcasters[version](row)
        version += 1
    return row | {"version": current}
