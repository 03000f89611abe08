"""Where a service's CPU goes, by stage: a py-spy profile of the running process, each sample given to one stage.

py-spy samples the process's Python stacks from outside (no change to the service, ``--nonblocking`` so it
never pauses it) and writes them as collapsed stacks: ``frame;frame;...;frame count``, outermost first, one
line per distinct stack, idle stacks left out. Each stack is given to the first :data:`STAGES` rule that
matches it, so the stages add up to the process's sampled CPU. Divided by the events handled while sampling,
that is CPU per event, stage by stage.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

Frames = Sequence[str]
"""One sampled stack, outermost first; each frame ``function (path:line)``."""


def _any(*needles: str) -> Callable[[Frames], bool]:
    return lambda frames: any(n in f for f in frames for n in needles)


def _all(*tests: Callable[[Frames], bool]) -> Callable[[Frames], bool]:
    return lambda frames: all(t(frames) for t in tests)


STAGES: tuple[tuple[str, str, Callable[[Frames], bool]], ...] = (
    (
        "log",
        "structlog: rendering, redaction, pseudonyms, the write",
        _any("structlog/", "servicekit/logs.py", "logging/__init__.py"),
    ),
    (
        "decode",
        "screen: header checks, JSON parsed with limits",
        _all(
            _any("screen (servicekit/consume/consumer.py"),
            _any("load_json", "json/decoder.py", "json/__init__.py"),
        ),
    ),
    (
        "validate",
        "screen: the contract (pydantic), upcasting, key check",
        _any("screen (servicekit/consume/consumer.py"),
    ),
    (
        "inbox",
        "the inbox claim and its fingerprints",
        _any("_admit (servicekit/consume/consumer.py", "fingerprint (servicekit"),
    ),
    (
        "serialise",
        "outputs to JSON and outbox rows",
        # the contracts' frames are named by their file alone ("Event.to_json (envelope.py:234)")
        _any("to_outbound (servicekit", "Event.to_json (", "id_text (", "enqueue (servicekit"),
    ),
    (
        "decide",
        "the domain's decide/evolve and building the output events",
        _any(
            "/domain/",
            "applied (procedures.py",  # the wrapper of a domain function that carries out a rule
            "step (expenses/handlers.py",
            "step (notification/handlers.py",
            "step (workitems/handlers.py",
        ),
    ),
    (
        "database",
        "state load and save (asyncpg's client side)",
        _all(
            _any("servicekit/consume/consumer.py"),
            _any("asyncpg/", "/store.py", "servicekit/db.py"),
        ),
    ),
    (
        "relay",
        "the outbox relay: reading rows back, deleting them, handing them to the producer",
        _any("servicekit/delivery/relay.py", "servicekit/delivery/outbox.py"),
    ),
    (
        "produce",
        "aiokafka's producer: batching, the wire, acknowledgements",
        _any("aiokafka/producer/"),
    ),
    (
        "fetch",
        "aiokafka's consumer: fetching and reading record batches",
        _any("aiokafka/consumer/", "aiokafka/record/", "servicekit/consume/aiokafka_patches.py"),
    ),
    (
        "network",
        "TLS and sockets (every client)",
        _any("ssl.py", "sslproto.py", "selector_events.py", "aiokafka/conn.py"),
    ),
    (
        "event loop",
        "the loop's own C code (uvloop: polling, callbacks, sockets and TLS), no Python frame under it",
        lambda frames: (
            bool(frames)
            and frames[-1].startswith(
                (
                    "Runner.run ",
                    "BaseEventLoop.run_until_complete ",
                    "EpollSelector.select ",
                    "BaseEventLoop._run_once ",
                )
            )
        ),
    ),
    (
        "pipeline",
        "the consume path's own code: its loops, counts, the outcomes' answers, the positions, the changes to save",
        _any("servicekit/consume/", "servicekit/shell.py", "servicekit/decider.py"),
    ),
    (
        "other",
        "the HTTP endpoints, metrics, timers, stacks py-spy could not follow to their root, everything else",
        lambda _frames: True,
    ),
)
"""(stage, what it covers, rule): the first rule a stack matches names its stage."""


def classify(frames: Frames) -> str:
    return next(name for name, _, matches in STAGES if matches(frames))


@dataclass(frozen=True)
class Profile:
    samples: dict[str, int]
    rate_hz: int

    @classmethod
    def parse(cls, lines: Iterable[str], rate_hz: int) -> Profile:
        samples: collections.Counter[str] = collections.Counter()
        for line in lines:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if stack and count.isdigit():
                samples[classify(stack.split(";"))] += int(count)
        return cls(dict(samples), rate_hz)

    @property
    def cpu_s(self) -> float:
        return sum(self.samples.values()) / self.rate_hz

    def per_event_us(self, events: int) -> dict[str, float]:
        return {
            name: self.samples.get(name, 0) / self.rate_hz / events * 1e6 for name, _, _ in STAGES
        }


class Sampler:
    """``py-spy record`` attached to a running process until :meth:`stop`."""

    def __init__(self, pid: int, out: Path, rate_hz: int = 250) -> None:
        self.out, self.rate_hz = out, rate_hz
        spy = Path(sys.executable).with_name("py-spy")
        self.process = subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                str(rate_hz),
                "--nonblocking",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> Profile:
        self.process.send_signal(signal.SIGINT)
        _, err = self.process.communicate(timeout=60)
        if not self.out.exists():
            raise RuntimeError(f"py-spy wrote no profile: {err.decode(errors='replace')[-500:]}")
        with self.out.open() as f:
            return Profile.parse(f, self.rate_hz)


def py_spy_available() -> bool:
    return os.access(Path(sys.executable).with_name("py-spy"), os.X_OK)


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process and all its descendants, the ones that ended included (PostgreSQL's
    backends, the JVM's threads)."""
    root = psutil.Process(pid)
    total = 0.0
    for proc in (root, *root.children(recursive=True)):
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total
