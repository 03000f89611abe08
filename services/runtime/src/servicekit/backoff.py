"""Exponential backoff with jitter for retrying infrastructure failures."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, first: float = 0.2, cap: float = 10.0) -> None:
        self.first, self.cap, self.attempt = first, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2**self.attempt)
        self.attempt += 1
        jittered: float = delay * random.uniform(0.8, 1.0)  # noqa: S311 - jitter, not cryptography
        return jittered

    def reset(self) -> None:
        self.attempt = 0
