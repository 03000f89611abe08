"""Services as real child processes (``python -m <service>``): for faults that only a process can suffer
(``kill -9`` mid-stream, a restart, two instances in one consumer group) and for benchmarks that need a
service's own CPU, memory and start-up time."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from devstack.procs import die_with_parent, free_port, record_pid, stop_process


async def wait_ready(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 90.0,
    interval: float = 0.2,
    gone: Callable[[], str | None] = lambda: None,
    detail: Callable[[], str] | None = None,
) -> None:
    """Until ``url``/ready answers 200. ``gone`` says why waiting is pointless (a process that exited);
    ``detail`` what to report on a timeout."""
    async with httpx.AsyncClient(timeout=3) as http:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if (why := gone()) is not None:
                raise RuntimeError(why)
            try:
                if (await http.get(f"{url}/ready", headers=headers)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    detail() if detail else f"{url}/ready did not answer 200 within {timeout:.0f}s"
                )
            await asyncio.sleep(interval)


class ServiceProcess:
    def __init__(self, name: str, env: dict[str, str], log_dir: Path, instance: str = "") -> None:
        self.name, self.instance = name, instance or name
        self.port = free_port()
        self.env = {
            "LOG_PSEUDONYM_KEY": secrets.token_hex(32),
            **os.environ,
            **env,
            f"{name.upper()}_HTTP_PORT": str(self.port),
        }
        self.log_path = log_dir / f"{self.instance}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, **env: str) -> ServiceProcess:
        self.env.update(env)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child holds it; closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.name],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGKILL),  # noqa: PLW1509
        )
        log.close()
        record_pid(self.process.pid)
        return self

    async def ready(
        self, headers: dict[str, str] | None = None, timeout: float = 90.0, interval: float = 0.2
    ) -> ServiceProcess:
        def gone() -> str | None:
            assert self.process is not None
            code = self.process.poll()
            return None if code is None else f"{self.instance} exited ({code}); see {self.log_path}"

        await wait_ready(
            self.url,
            headers=headers,
            timeout=timeout,
            interval=interval,
            gone=gone,
            detail=lambda: f"{self.instance} not ready; see {self.log_path}",
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def rss_bytes(self) -> int:
        """Resident memory of the process now (Linux ``/proc``)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS line")

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far (Linux ``/proc``)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """kill -9: no shutdown, no flush, no offset commit."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGTERM)
