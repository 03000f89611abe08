"""What operators watch: the alert rules pass promtool's unit tests, and every metric the rules and the dashboard
query is one the services expose (a renamed metric would otherwise leave an alert that never fires)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from console.app import OWN_GAUGES as CONSOLE_GAUGES

from devstack import system
from servicekit.metrics import Metrics

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "msp-im-services.json"
PROMETHEUS_OWN = {"up"}
"""Series Prometheus itself records for every scrape target."""
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "le",
}


def exposed() -> set[str]:
    """Every series name a service's registry can expose (counters as ``_total``, histograms by their parts)."""
    names: set[str] = set()
    for family in Metrics("any").registry.collect():
        match family.type:
            case "counter":
                names |= {f"{family.name}_total", f"{family.name}_created"}
            case "histogram":
                names |= {f"{family.name}_{part}" for part in ("bucket", "count", "sum", "created")}
            case _:
                names.add(family.name)
    return names | set(CONSOLE_GAUGES)


def metrics_in(expr: str) -> set[str]:
    """The series names a PromQL expression selects: identifiers that are neither functions, keywords, label
    names (in ``{...}`` or ``by (...)``) nor strings or ranges."""
    text = re.sub(r'"[^"]*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", text)
    return {
        name
        for name in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text)
        if name not in KEYWORDS and not re.fullmatch(r"\d.*", name)
    }


def rule_exprs() -> list[str]:
    return [
        rule["expr"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    ]


def dashboard_exprs() -> list[str]:
    return [
        target["expr"]
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel["targets"]
    ]


def test_the_alert_rules_are_valid_and_pass_their_promtool_unit_tests():
    promtool = shutil.which("promtool")
    assert promtool, "the test command installs Debian's prometheus package, which has promtool"
    checked = subprocess.run(
        [promtool, "check", "rules", RULES.name],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_rule_has_a_unit_test():
    tests = yaml.safe_load((RULES.parent / "alerts.test.yml").read_text())["tests"]
    tested = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    rules = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    assert rules == tested, "each alert is shown firing at least once"


@pytest.mark.parametrize(
    ("source", "exprs"), [("alert rules", rule_exprs), ("dashboard", dashboard_exprs)]
)
def test_every_metric_queried_is_one_the_services_expose(source, exprs):
    known = exposed() | PROMETHEUS_OWN
    queried = {name for expr in exprs() for name in metrics_in(expr)}
    assert queried, f"the {source} query something"
    assert queried <= known, (
        f"the {source} query metrics no service exposes: {sorted(queried - known)}"
    )


def test_the_metric_check_sees_a_misspelt_name():
    assert metrics_in('sum by (job) (rate(messages_consumd_total{topic="x"}[5m])) > 0') == {
        "messages_consumd_total"
    }
    assert "messages_consumd_total" not in exposed()


def test_the_scrape_example_is_a_valid_configuration_that_sends_an_operations_token_from_a_file(
    tmp_path,
):
    """Issue 26: /metrics opens to the operations role only, so the example scrape must carry such a token. One
    job per service: the alerts name the service by `job` (PaymentAttemptsStopped reads job="expenses")."""
    example = yaml.safe_load((RULES.parent / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in example["scrape_configs"]}
    assert set(jobs) == {"notification", "expenses", "workitems", "console"}
    assert 'job="expenses"' in RULES.read_text(), "the alerts read the service from job"
    for job in jobs.values():
        assert job["authorization"]["type"] == "Bearer"
        assert "credentials" not in job["authorization"], (
            "a token is read from a file, never written in the config"
        )
    ports = {name: job["static_configs"][0]["targets"] for name, job in jobs.items()}
    assert ports == {
        "notification": ["127.0.0.1:8081"],
        "expenses": ["127.0.0.1:8082"],
        "workitems": ["127.0.0.1:8083"],
        "console": ["127.0.0.1:8084"],
    }, "the four services where compose publishes them"
    token = tmp_path / "ops.token"
    token.write_text("a-token")
    for job in jobs.values():
        job["authorization"]["credentials_file"] = str(token)
    example["rule_files"] = [str(RULES)]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(example))
    promtool_accepts(tmp_path / "prometheus.yml")


def promtool_accepts(config: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "the test command installs Debian's prometheus package, which has promtool"
    checked = subprocess.run(
        [promtool, "check", "config", config.name],
        cwd=config.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_dev_run_writes_a_scrape_of_its_own_free_ports_with_its_token_file(tmp_path, monkeypatch):
    """Issue 29: the services of ./dev run take free ports, so the scrape it prints must name them."""
    monkeypatch.setattr(system, "STATE_DIR", tmp_path / "state")
    token = tmp_path / "operations.token"
    token.write_text("a-token")
    urls = {"expenses": "http://127.0.0.1:40123", "console": "http://127.0.0.1:40999"}
    written = system.prometheus_config(urls, token)
    assert written.parent == tmp_path / "state"
    assert written.stat().st_mode & 0o777 == 0o600, "issue 37: it was 0644"
    assert system.prometheus_config(urls, token).stat().st_mode & 0o777 == 0o600, "and again"
    config = yaml.safe_load(written.read_text())
    assert [
        (job["job_name"], job["static_configs"], job["authorization"])
        for job in config["scrape_configs"]
    ] == [
        (name, [{"targets": [target]}], {"type": "Bearer", "credentials_file": str(token)})
        for name, target in (("expenses", "127.0.0.1:40123"), ("console", "127.0.0.1:40999"))
    ]
    assert config["rule_files"] == [str(RULES)]
    promtool_accepts(written)
