"""The Kubernetes base (``deploy/kubernetes/base/``), written from the catalogue: a Deployment per service with its
probes, a Service, a PodDisruptionBudget, a NetworkPolicy, a KEDA ScaledObject on its group's lag; the provisioning
Job; the scrape (a ServiceMonitor) and the alert rules (a PrometheusRule made from ``deploy/prometheus/alerts.yml``).

    python -m devstack.kubernetes --write    rewrite the base (a test fails while it is stale)

The overlays (``deploy/kubernetes/overlays/*``) are written by hand: they set the namespace, the image's registry,
and the addresses of the broker and the database. What the manifests must hold (every secret a file, every setting
one the service reads, every port the one it listens on) is checked on the rendered overlays by
``tests/deploy/test_kubernetes.py``; how to deploy them is in docs/operations.md, "Kubernetes".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contracts.catalogue import CATALOGUE

ROOT = Path(__file__).resolve().parents[4]
BASE = ROOT / "deploy" / "kubernetes" / "base"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"

SERVICES = ("notification", "expenses", "workitems", "console")
"""The four services of the one image (``python -m <service>``)."""
IMAGE = "msp-im/service:1.0.0"
PORT = 8080
SECRETS_DIR = "/run/msp-im"
SETTINGS = "msp-im-settings"
"""The ConfigMap of the settings every service shares (the overlays set the addresses in it)."""
SHARED_SECRET = "msp-im-shared"  # noqa: S105 - a Secret's name, not its value
PART_OF = "msp-im"
MONITORING_SECRET = "msp-im-monitoring"  # noqa: S105 - a Secret's name, not its value
"""The scrape's token (the ``ops`` role, from the identity provider's monitoring account)."""
MAX_REPLICAS = 6
"""A consumer group shares its partitions among its instances: more than a topic's partitions (TOPIC_PARTITIONS,
6) would sit idle."""


@dataclass(frozen=True)
class SecretFile:
    """One file of a mounted secret: which Secret and key it comes from, and where it appears."""

    secret: str
    key: str
    name: str = ""
    """its file name under /run/msp-im: the key's, unless given"""

    @property
    def path(self) -> str:
        return f"{SECRETS_DIR}/{self.name or self.key}"


def service_secret(service: str) -> str:
    return f"msp-im-{service}"


SHARED_FILES = (
    SecretFile(SHARED_SECRET, "kafka-ca.pem"),  # the broker's CA
    SecretFile(SHARED_SECRET, "log-pseudonym.key"),
)


def files(service: str) -> list[SecretFile]:
    """Every secret file a service reads, mounted read-only under /run/msp-im: its Kafka principal's and database
    role's passwords and its dead-letter seal key; the broker's CA, the log pseudonym key and the identity
    provider's public key, whose tokens its HTTP endpoints accept."""
    own = service_secret(service)
    return [
        *(SecretFile(own, key) for key in ("kafka.password", "database.password", "dlq-seal.key")),
        *SHARED_FILES,
        SecretFile(SHARED_SECRET, "token-keys.pem"),
    ]


def provision_files() -> list[SecretFile]:
    """The provisioning Job's: Kafka's admin and the database superuser's passwords, and each service role's
    password (the role is made with it)."""
    return [
        SecretFile("msp-im-provision", "kafka.password"),
        SecretFile("msp-im-provision", "database.password"),
        *SHARED_FILES,
        *(
            SecretFile(service_secret(s), "database.password", f"roles/{s}.password")
            for s in SERVICES
        ),
    ]


def secret_keys() -> dict[str, set[str]]:
    """Every Secret the manifests name, with the keys they read: what an operator creates before deploying."""
    keys: dict[str, set[str]] = {}
    for f in [f for s in SERVICES for f in files(s)] + provision_files():
        keys.setdefault(f.secret, set()).add(f.key)
    for service in consumers():
        keys[service_secret(service)].add("kafka.username")
    keys[MONITORING_SECRET] = {"token"}
    return keys


def consumers() -> list[str]:
    """The services that read a topic (every one of them: each is a consumer group named after itself)."""
    return [s for s in SERVICES if any(s in t.consumers for t in CATALOGUE.topics)]


def labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PART_OF}


def selector(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": component}


def _volume(name: str, mounted: list[SecretFile]) -> dict[str, Any]:
    sources: dict[str, list[dict[str, str]]] = {}
    for f in mounted:
        sources.setdefault(f.secret, []).append(
            {"key": f.key, "path": f.path.removeprefix(SECRETS_DIR + "/")}
        )
    return {
        "name": name,
        "projected": {
            "defaultMode": 0o440,
            "sources": [{"secret": {"name": s, "items": items}} for s, items in sources.items()],
        },
    }


def _env(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs.items()]


def _database_env() -> list[dict[str, Any]]:
    """The database's address and name, from the settings ConfigMap: the services' URLs are made of them."""
    return [
        {"name": name, "valueFrom": {"configMapKeyRef": {"name": SETTINGS, "key": name}}}
        for name in ("DATABASE_ADDRESS", "DATABASE_NAME")
    ]


POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def _container(name: str, command: list[str], env: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "image": IMAGE,
        "command": command,
        "envFrom": [{"configMapRef": {"name": SETTINGS}}],
        "env": env,
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the pod's own in-memory /tmp
        ],
    }


def _pod(
    name: str, container: dict[str, Any], mounted: list[SecretFile], **extra: Any
) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels(name)},
        "spec": {
            "serviceAccountName": name,
            "automountServiceAccountToken": False,
            "securityContext": POD_SECURITY,
            **extra,
            "containers": [container],
            "volumes": [
                _volume("secrets", mounted),
                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            ],
        },
    }


def _probe(path: str, period_s: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period_s,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def service_env(service: str) -> dict[str, str]:
    """What a service is told besides the shared settings: its own secrets' files, database login and port."""
    prefix = service.upper() + "_"
    paths = {f.key: f.path for f in files(service)}
    return {
        f"{prefix}KAFKA_SASL_PASSWORD_FILE": paths["kafka.password"],
        f"{prefix}DATABASE_URL": f"postgresql://{service}@$(DATABASE_ADDRESS)/$(DATABASE_NAME)",
        f"{prefix}DATABASE_PASSWORD_FILE": paths["database.password"],
        f"{prefix}DLQ_SEAL_KEY_FILE": paths["dlq-seal.key"],
        "KAFKA_SSL_CAFILE": paths["kafka-ca.pem"],
        "LOG_PSEUDONYM_KEY_FILE": paths["log-pseudonym.key"],
        "JWT_PUBLIC_KEYS": f'["{paths["token-keys.pem"]}"]',
        f"{prefix}HTTP_HOST": "0.0.0.0",  # noqa: S104 - the pod's address; its NetworkPolicy admits the scrape
        f"{prefix}HTTP_PORT": str(PORT),
    }


def deployment(service: str) -> dict[str, Any]:
    container = _container(
        service, ["python", "-m", service], _database_env() + _env(service_env(service))
    )
    container |= {
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        # The process answers /health once started; its migrations run before it listens.
        "startupProbe": _probe("/health", 2, 60),
        "livenessProbe": _probe("/health", 10, 3),
        # /ready fails while the database or the broker cannot be reached, partitions are unassigned, the
        # consumer is stalled, the outbox is stuck or a timer is overdue (docs/operations.md).
        "readinessProbe": _probe("/ready", 5, 3),
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service, "labels": labels(service)},
        "spec": {
            # No replica count: the ScaledObject's autoscaler owns it (an apply would reset a count written here).
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(service)},
            # One new instance at a time and no old one stopped before its successor is ready: a roll moves
            # partitions once per instance (the consumer group's rebalance), and never drops below the count.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": _pod(
                service,
                container,
                files(service),
                # SIGTERM: the service finishes its batch, commits, leaves its group and stops (in seconds).
                terminationGracePeriodSeconds=60,
                topologySpreadConstraints=[
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": selector(service)},
                    }
                ],
            ),
        },
    }


def service_account(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "labels": labels(name)},
        "automountServiceAccountToken": False,
    }


def http_service(service: str) -> dict[str, Any]:
    # Named after the service: the ServiceMonitor's job label is the Service's name, and the alerts read `job`.
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service, "labels": labels(service)},
        "spec": {
            "selector": selector(service),
            "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def disruption_budget(service: str) -> dict[str, Any]:
    # maxUnavailable (not minAvailable): a node drain never waits for ever on a service scaled to one instance.
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": service, "labels": labels(service)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(service)}},
    }


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


EGRESS = [
    # DNS, to find the broker and the database
    {
        "to": [_namespace("kube-system")],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    },
    {"to": [_namespace("kafka")], "ports": [{"protocol": "TCP", "port": 9093}]},
    {"to": [_namespace("postgres")], "ports": [{"protocol": "TCP", "port": 5432}]},
]
"""Where a pod of the system may connect: the broker's and the database's namespaces (overlays name their own)."""
SCRAPE = {"from": [_namespace("monitoring")], "ports": [{"protocol": "TCP", "port": "http"}]}
INGRESS = {"from": [_namespace("ingress-nginx")], "ports": [{"protocol": "TCP", "port": "http"}]}


def network_policy(component: str, ingress: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": component, "labels": labels(component)},
        "spec": {
            "podSelector": {"matchLabels": selector(component)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": EGRESS,
        },
    }


def deny_all() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "labels": {"app.kubernetes.io/part-of": PART_OF}},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def scaled_object(service: str) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": service, "labels": labels(service)},
        "spec": {
            "scaleTargetRef": {"name": service},
            "minReplicaCount": 2,
            "maxReplicaCount": MAX_REPLICAS,
            "pollingInterval": 30,
            "cooldownPeriod": 300,
            "triggers": [
                {
                    "type": "kafka",
                    # No topic: the lag of every topic the group reads (the one group, named after the service).
                    "metadata": {
                        # from the target's own environment (its settings ConfigMap): one place for the address
                        "bootstrapServersFromEnv": "KAFKA_BOOTSTRAP_SERVERS",
                        "consumerGroup": service,
                        "lagThreshold": "500",
                        "activationLagThreshold": "50",
                        "offsetResetPolicy": "earliest",
                        "sasl": "scram_sha512",
                        "tls": "enable",
                    },
                    "authenticationRef": {"name": service},
                }
            ],
        },
    }


def trigger_authentication(service: str) -> dict[str, Any]:
    # KEDA reads the group's lag as the service's own principal (which may describe its group and topics).
    own = service_secret(service)
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": service, "labels": labels(service)},
        "spec": {
            "secretTargetRef": [
                {"parameter": "username", "name": own, "key": "kafka.username"},
                {"parameter": "password", "name": own, "key": "kafka.password"},
                {"parameter": "ca", "name": SHARED_SECRET, "key": "kafka-ca.pem"},
            ]
        },
    }


def provision_job() -> dict[str, Any]:
    name = "provision"
    paths = {f.key: f.path for f in provision_files()}
    container = _container(
        name,
        ["python", "-m", "servicekit.tools.provision"],
        _database_env()
        + _env(
            {
                "PROVISION_KAFKA_SASL_PASSWORD_FILE": paths["kafka.password"],
                "PROVISION_DATABASE_URL": "postgresql://postgres@$(DATABASE_ADDRESS)/$(DATABASE_NAME)",
                "PROVISION_DATABASE_PASSWORD_FILE": paths["database.password"],
                "PROVISION_DATABASE_ROLES": '["' + '", "'.join(SERVICES) + '"]',
                "PROVISION_DATABASE_PASSWORDS_DIR": f"{SECRETS_DIR}/roles",
                "KAFKA_SSL_CAFILE": paths["kafka-ca.pem"],
                "LOG_PSEUDONYM_KEY_FILE": paths["log-pseudonym.key"],
            }
        ),
    )
    container["resources"] = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "256Mi"},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "msp-im-provision", "labels": labels(name)},
        "spec": {
            "backoffLimit": 10,
            "ttlSecondsAfterFinished": 86400,
            "template": _pod(name, container, provision_files(), restartPolicy="OnFailure"),
        },
    }


def service_monitor() -> dict[str, Any]:
    # /metrics takes a token with the ops role: the identity provider's token for the monitoring account.
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": PART_OF, "labels": {"app.kubernetes.io/part-of": PART_OF}},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}},
            "endpoints": [
                {
                    "port": "http",
                    "path": "/metrics",
                    "interval": "30s",
                    "authorization": {
                        "type": "Bearer",
                        "credentials": {"name": MONITORING_SECRET, "key": "token"},
                    },
                }
            ],
        },
    }


def prometheus_rule() -> dict[str, Any]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": PART_OF, "labels": {"app.kubernetes.io/part-of": PART_OF}},
        "spec": {"groups": groups},
    }


def settings_literals() -> dict[str, str]:
    """The shared settings, with this base's defaults: the overlays replace the addresses."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-bootstrap.kafka.svc:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "DATABASE_ADDRESS": "postgres.postgres.svc:5432",
        "DATABASE_NAME": "msp_im",
        "TOPIC_PREFIX": "",
        "TOPIC_PARTITIONS": str(MAX_REPLICAS),
        "TOPIC_REPLICATION": "3",
        "JWT_ISSUER": "https://login.internal/officers",
    }


def kustomization() -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [*(f"{s}.yaml" for s in SERVICES), "provision.yaml", "cluster.yaml"],
        "configMapGenerator": [
            {"name": SETTINGS, "literals": [f"{k}={v}" for k, v in settings_literals().items()]}
        ],
    }


HEADER = "# Written by python -m devstack.kubernetes --write from the catalogue: change that, not this file.\n"


def _documents(docs: list[dict[str, Any]]) -> str:
    return HEADER + "".join(
        "---\n" + yaml.safe_dump(d, sort_keys=False, default_flow_style=False, width=120)
        for d in docs
    )


def generated() -> dict[Path, str]:
    """Every file of the base, by path."""
    out: dict[Path, str] = {}
    for service in SERVICES:
        docs = [
            service_account(service),
            deployment(service),
            http_service(service),
            disruption_budget(service),
            network_policy(service, [SCRAPE, INGRESS] if service == "console" else [SCRAPE]),
        ]
        if service in consumers():
            docs += [scaled_object(service), trigger_authentication(service)]
        out[BASE / f"{service}.yaml"] = _documents(docs)
    out[BASE / "provision.yaml"] = _documents(
        [service_account("provision"), provision_job(), network_policy("provision", [])]
    )
    out[BASE / "cluster.yaml"] = _documents([deny_all(), service_monitor(), prometheus_rule()])
    out[BASE / "kustomization.yaml"] = _documents([kustomization()])
    return out


def secrets_table() -> Iterator[str]:
    """The Secrets an operator creates, for docs/operations.md."""
    for secret, keys in sorted(secret_keys().items()):
        yield f"| `{secret}` | {', '.join(f'`{k}`' for k in sorted(keys))} |"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true")
    if parser.parse_args().write:
        for path, text in generated().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return 0
    print("\n".join(secrets_table()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
