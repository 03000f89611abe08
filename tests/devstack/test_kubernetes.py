"""The Kubernetes manifests (deploy/kubernetes): the base is the one the catalogue gives, each overlay renders, every
document validates against the pinned Kubernetes, KEDA and Prometheus operator schemas, and each workload is given
what its service reads: every setting one it reads, every secret a mounted file, its port, its principal, its group."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from console.app import ConsoleSettings
from pydantic import AliasChoices

from contracts.access import principals
from contracts.catalogue import CATALOGUE
from devstack import kubernetes
from expenses.app import ExpensesSettings
from notification.app import NotificationSettings
from servicekit.settings import ServiceSettings
from servicekit.tools.provision import ProvisionSettings
from tests.support.kubernetes import problems, render
from workitems.app import WorkitemsSettings

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = sorted((ROOT / "deploy" / "kubernetes" / "overlays").iterdir())
SETTINGS: dict[str, type[ServiceSettings]] = {
    "notification": NotificationSettings,
    "expenses": ExpensesSettings,
    "workitems": WorkitemsSettings,
    "console": ConsoleSettings,
    "provision": ProvisionSettings,
}
SECRET_SETTINGS = (
    "kafka_sasl_password_file",
    "database_password_file",
    "log_pseudonym_key_file",
    "kafka_ssl_cafile",
)
"""The settings that name a secret's file, which must be a mounted one."""

pytestmark = pytest.mark.integration
"""Not the fast tier: rendering takes kustomize, and the custom kinds' schemas come from the Go module proxy once."""


@pytest.mark.unit
def test_the_base_is_the_one_the_catalogue_gives() -> None:
    stale = [
        p.name
        for p, text in kubernetes.generated().items()
        if not p.exists() or p.read_text() != text
    ]
    assert stale == [], f"stale: run python -m devstack.kubernetes --write ({stale})"


@pytest.fixture(scope="module", params=OVERLAYS, ids=lambda p: p.name)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def of_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def workloads(documents: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each workload's name (the service's, or provision) and its pod spec."""
    for d in documents:
        if d["kind"] in ("Deployment", "Job"):
            yield (
                d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"],
                d["spec"]["template"]["spec"],
            )


def names_read(cls: type[ServiceSettings]) -> set[str]:
    """Every environment variable the settings class reads."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(c) for c in alias.choices}
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def environment(pod: dict[str, Any], documents: list[dict[str, Any]]) -> dict[str, str]:
    """The container's environment as the kubelet makes it: the ConfigMaps of envFrom, then env, each $(NAME)
    replaced by an earlier value."""
    (container,) = pod["containers"]
    maps = of_kind(documents, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= maps[source["configMapRef"]["name"]]["data"]
    for entry in container.get("env", []):
        assert "secretKeyRef" not in entry.get("valueFrom", {}), (
            f"{entry['name']}: a secret as a value, not a file"
        )
        if "value" in entry:
            env[entry["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], entry["value"])
        else:
            ref = entry["valueFrom"]["configMapKeyRef"]
            env[entry["name"]] = maps[ref["name"]]["data"][ref["key"]]
    return env


def mounted_files(pod: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each file a pod's secret volumes put in its container, by path: (Secret, key)."""
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    out: dict[str, tuple[str, str]] = {}
    for mount in container["volumeMounts"]:
        for source in volumes[mount["name"]].get("projected", {}).get("sources", []):
            for item in source["secret"]["items"]:
                out[f"{mount['mountPath']}/{item['path']}"] = (
                    source["secret"]["name"],
                    item["key"],
                )
    return out


def test_every_document_validates_against_the_pinned_schemas(
    rendered: list[dict[str, Any]],
) -> None:
    kinds = {d["kind"] for d in rendered}
    assert {
        "Deployment",
        "ScaledObject",
        "TriggerAuthentication",
        "PrometheusRule",
        "NetworkPolicy",
    } <= kinds
    found = [p for d in rendered for p in problems(d)]
    assert found == []


def test_a_document_with_a_field_kubernetes_does_not_know_is_refused() -> None:
    """The validation is strict: a misspelt field would otherwise be dropped by the API server unseen."""
    documents = render(OVERLAYS[0])
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    scaled = next(d for d in documents if d["kind"] == "ScaledObject")
    deployment["spec"]["replica"] = 2
    scaled["spec"]["minReplicasCount"] = 1
    assert [p.split(":")[-1].strip() for p in problems(deployment)] == [
        "Additional properties are not allowed ('replica' was unexpected)"
    ]
    assert [p.split(":", 2)[-1].strip() for p in problems(scaled)] == [
        "Additional properties are not allowed ('minReplicasCount' was unexpected)"
    ]


def test_each_workload_is_given_what_its_service_reads(
    rendered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    given = dict(workloads(rendered))
    assert set(given) == set(SETTINGS)
    catalogue_principals = set(principals(CATALOGUE))
    for name, pod in given.items():
        cls = SETTINGS[name]
        env = environment(pod, rendered)
        interpolated = {
            m
            for e in pod["containers"][0]["env"]
            for m in re.findall(r"\$\((\w+)\)", e.get("value", ""))
        }
        unread = set(env) - names_read(cls) - interpolated
        assert unread == set(), f"{name} is given settings it never reads: {sorted(unread)}"
        for key in list(os.environ):
            if key.upper() in names_read(cls):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = cls()
        files = mounted_files(pod)
        for setting in SECRET_SETTINGS:
            assert str(getattr(settings, setting)) in files, (
                f"{name}: {setting} is not a mounted secret"
            )
        assert all(key in files for key in settings.jwt_public_keys) or name == "provision"
        assert settings.log_pseudonym_key is None, "secrets only as files"
        assert settings.kafka_sasl_password is None, "secrets only as files"
        assert settings.kafka_security_protocol == "SASL_SSL"
        if isinstance(settings, ProvisionSettings):
            roles = {
                f"{settings.database_passwords_dir}/{r}.password" for r in settings.database_roles
            }
            assert roles <= set(files), "every role's password a mounted file"
            continue
        assert (
            (settings.kafka_sasl_username or settings.service_name) == name in catalogue_principals
        )
        assert str(settings.dlq_seal_key_file) in files
        assert settings.database_url.startswith(f"postgresql://{name}@")
        (container,) = pod["containers"]
        assert container["ports"] == [
            {"name": "http", "containerPort": settings.http_port, "protocol": "TCP"}
        ]
        assert settings.http_host == "0.0.0.0"
        monkeypatch.undo()


def test_every_secret_named_is_one_the_manual_tells_an_operator_to_create(
    rendered: list[dict[str, Any]],
) -> None:
    named: set[tuple[str, str]] = set()
    for _, pod in workloads(rendered):
        named |= set(mounted_files(pod).values())
    for auth in of_kind(rendered, "TriggerAuthentication").values():
        named |= {(r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    for monitor in of_kind(rendered, "ServiceMonitor").values():
        for endpoint in monitor["spec"]["endpoints"]:
            ref = endpoint["authorization"]["credentials"]
            named.add((ref["name"], ref["key"]))
    manual = (ROOT / "docs" / "operations.md").read_text()
    table = {
        (secret, key)
        for row in manual.splitlines()
        if row.startswith("| `msp-im-")
        for secret in re.findall(r"`([\w.-]+)`", row.split("|")[1])
        for key in re.findall(r"`([\w.-]+)`", row.split("|")[2])
    }
    assert named <= table, f"not in the manual's table of secrets: {sorted(named - table)}"


def test_pods_run_unprivileged_and_reach_only_the_broker_the_database_and_the_scrape(
    rendered: list[dict[str, Any]],
) -> None:
    policies = of_kind(rendered, "NetworkPolicy")
    deny = [p for p in policies.values() if p["spec"]["podSelector"] == {}]
    assert [d["spec"]["policyTypes"] for d in deny] == [["Ingress", "Egress"]]
    assert "ingress" not in deny[0]["spec"]
    for name, pod in workloads(rendered):
        (container,) = pod["containers"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        policy = policies[name]
        assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
        ports = sorted(p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"])
        assert ports == [53, 53, 5432, 9093], (
            f"{name} may reach more than the broker, the database and DNS"
        )
        sources = [
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for rule in policy["spec"]["ingress"]
            for peer in rule["from"]
        ]
        assert sources == {"console": ["monitoring", "ingress-nginx"], "provision": []}.get(
            name, ["monitoring"]
        )


def test_each_service_has_probes_a_disruption_budget_and_scales_on_its_groups_lag(
    rendered: list[dict[str, Any]],
) -> None:
    deployments = of_kind(rendered, "Deployment")
    budgets = of_kind(rendered, "PodDisruptionBudget")
    scaled = of_kind(rendered, "ScaledObject")
    auths = of_kind(rendered, "TriggerAuthentication")
    settings_map = of_kind(rendered, "ConfigMap")
    partitions = int(next(iter(settings_map.values()))["data"]["TOPIC_PARTITIONS"])
    readers = {c for t in CATALOGUE.topics for c in t.consumers}
    assert set(deployments) == set(kubernetes.SERVICES)
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
        assert container["resources"]["requests"]
        assert budgets[name]["spec"]["selector"] == deployment["spec"]["selector"]
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        if name not in readers:
            continue
        trigger = scaled[name]["spec"]["triggers"][0]
        assert scaled[name]["spec"]["scaleTargetRef"]["name"] == name
        assert scaled[name]["spec"]["maxReplicaCount"] <= partitions, (
            "instances past the partitions sit idle"
        )
        assert trigger["metadata"]["consumerGroup"] == name
        assert trigger["metadata"]["bootstrapServersFromEnv"] in environment(
            deployment["spec"]["template"]["spec"], rendered
        )
        refs = {
            r["parameter"]: (r["name"], r["key"])
            for r in auths[trigger["authenticationRef"]["name"]]["spec"]["secretTargetRef"]
        }
        assert refs["username"] == (kubernetes.service_secret(name), "kafka.username")
        assert refs["password"] in mounted_files(deployment["spec"]["template"]["spec"]).values()


def test_the_prometheus_rule_is_the_alert_rules_the_promtool_tests_check(
    rendered: list[dict[str, Any]],
) -> None:
    (rule,) = of_kind(rendered, "PrometheusRule").values()
    assert rule["spec"]["groups"] == yaml.safe_load(kubernetes.ALERTS.read_text())["groups"]
