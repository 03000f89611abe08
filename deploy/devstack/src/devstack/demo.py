"""The demo: the whole system on embedded defaults with the simulated clock, every bundled scenario replayed
through it, a readable summary, and exit code 0 only when every scenario reached its expected outcome and no
personal data of the sample reached a service's log."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from contracts.procedures import RULES
from devstack.procs import stop_requested
from devstack.scenarios import (
    Outcome,
    Runner,
    Scenario,
    SystemUnderTest,
    load_all,
    personal_strings,
)
from devstack.state import state_file, write_state
from devstack.system import SERVICES, running_system, say_sign_in_links, summary
from devstack.tokens import EVERY_ROLE, SYSTEM_AUDIENCES, Signer


async def _replay(system: SystemUnderTest, scenarios: list[Scenario]) -> list[Outcome]:
    outcomes = []
    async with Runner(system) as runner:
        for scenario in scenarios:
            outcome = await runner.run(scenario)
            print("\n".join(outcome.summary()), flush=True)
            print(flush=True)
            outcomes.append(outcome)
    return outcomes


def main(*, stay: bool = False) -> int:
    started = time.monotonic()
    scenarios = load_all()
    run_id = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix=f"msp-im-demo-{run_id}-"))
    signer = Signer(issuer="https://demo.local/officers", audience=SYSTEM_AUDIENCES)
    public = workdir / "demo-officers.pem"
    public.write_text(signer.public_pem)
    env = {
        "CLOCK_START": (scenarios[0].starts_at - timedelta(hours=1)).isoformat(),
        "TOPIC_PREFIX": f"demo-{run_id}.",  # fresh topics and groups even on a shared cluster
        **{f"{s.upper()}_DB_SCHEMA": f"demo_{run_id}_{s}" for s in SERVICES},
        "JWT_PUBLIC_KEYS": f'["{public}"]',
        "JWT_ISSUER": signer.issuer,
        "CONSOLE_SECURE_COOKIES": "false",  # loopback HTTP, as ./dev run says
    }
    print(
        f"[demo] {len(scenarios)} scenarios from scenarios/; service logs in {workdir}", flush=True
    )
    with running_system(clock="simulated", extra_env=env, log_dir=workdir) as running:
        running.wait_ready()
        print(f"[demo] all services ready after {time.monotonic() - started:.0f}s", flush=True)
        write_state("system", **summary(running, "simulated"))  # for ./dev sign-in and ./dev status
        say_sign_in_links(signer, running)
        print("[demo] replaying\n", flush=True)
        assert running.kafka is not None
        system = SystemUnderTest(
            running.kafka,
            env["TOPIC_PREFIX"],
            running.urls,
            signer.token("OFF-DEMO", expires_in=3600, roles=EVERY_ROLE),
        )
        outcomes = asyncio.run(_replay(system, scenarios))
        if stay:
            print(
                "[demo] replayed; the system keeps running for the console until Ctrl-C", flush=True
            )
            stopping = stop_requested()
            while not stopping.wait(1.0) and running.exited() is None:
                pass
        state_file("system").unlink(missing_ok=True)
    leaks = _scan_logs(workdir, scenarios)
    passed = sum(o.ok for o in outcomes)
    print(
        f"[demo] {passed}/{len(outcomes)} scenarios reached their expected outcome; "
        f"{'no personal data in the service logs' if not leaks else f'PERSONAL DATA IN LOGS: {leaks}'}; "
        f"{time.monotonic() - started:.0f}s in all",
        flush=True,
    )
    exercised = {rule for o in outcomes if o.ok for rule in o.scenario.rules}
    print(
        f"[demo] the scenarios that passed exercised {len(exercised)} of the procedures' {len(RULES)} rules "
        "(every rule's tests and scenarios: docs/procedures.md)",
        flush=True,
    )
    return 0 if passed == len(outcomes) and not leaks else 1


def _scan_logs(workdir: Path, scenarios: list[Scenario]) -> list[str]:
    text = "".join(p.read_text(errors="replace") for p in sorted(workdir.glob("*.log")))
    return sorted(s for s in personal_strings(scenarios) if s in text)


if __name__ == "__main__":
    sys.exit(main())
