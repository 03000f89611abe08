"""Checking Kubernetes manifests offline: rendering an overlay with kustomize, and validating each document against
the schemas of pinned versions, strictly (an unknown field is an error, as ``kubectl apply --validate=strict``
makes it).

- Kubernetes' own kinds: the schemas of :data:`KUBERNETES` carried by the ``kubernetes-validate`` package (pinned
  with its hash in requirements.lock).
- KEDA's and the Prometheus operator's kinds: the CustomResourceDefinitions of the pinned releases, taken from their
  Go modules as the Go module proxy serves them (each zip checked against the sha256 pinned here) and kept in the
  cache outside the repository.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from devstack.procs import cache_root

KUBERNETES = "1.33.0"
"""The Kubernetes version whose schemas the manifests are checked against (any 1.30 or later takes them)."""


@dataclass(frozen=True)
class Module:
    path: str
    version: str
    sha256: str
    crds: dict[str, str]
    """kind -> the CRD's file inside the module"""

    def zip_url(self, proxy: str) -> str:
        return f"{proxy.rstrip('/')}/{self.path}/@v/{self.version}.zip"


MODULES = (
    Module(
        "github.com/kedacore/keda/v2",
        "v2.16.1",
        "ccb104c6e2cf35d16c9ceac520fa8d92afd9377b58ff62a668e5946eb4f18e2c",
        {
            "ScaledObject": "config/crd/bases/keda.sh_scaledobjects.yaml",
            "TriggerAuthentication": "config/crd/bases/keda.sh_triggerauthentications.yaml",
        },
    ),
    Module(
        "github.com/prometheus-operator/prometheus-operator",
        "v0.85.0",
        "0bdb88ed823d0f2e86cf909638439b6ad1da744a228172c7411d9987527dc5d1",
        {
            "PrometheusRule": "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
            "ServiceMonitor": "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        },
    ),
)


def _proxy() -> str:
    for entry in os.environ.get("GOPROXY", "https://proxy.golang.org").split(","):
        if entry.startswith("http"):
            return entry
    return "https://proxy.golang.org"


def _crd_text(module: Module, kind: str) -> str:
    kept = (
        cache_root() / "crds" / f"{module.path.replace('/', '_')}@{module.version}" / f"{kind}.yaml"
    )
    if kept.exists():
        return kept.read_text()
    with urllib.request.urlopen(module.zip_url(_proxy()), timeout=120) as answer:
        body = answer.read()
    digest = hashlib.sha256(body).hexdigest()
    if digest != module.sha256:
        raise RuntimeError(
            f"{module.path}@{module.version}: the zip's sha256 {digest} is not the pinned one"
        )
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for other, member in module.crds.items():
            path = kept.parent / f"{other}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(f"{module.path}@{module.version}/{member}"))
    return kept.read_text()


def _strict(schema: Any) -> Any:
    """The schema with unknown fields refused wherever Kubernetes would prune them (an object with properties,
    no additionalProperties and no x-kubernetes-preserve-unknown-fields)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The strict schema of a custom kind at the given apiVersion, from its pinned CRD."""
    for module in MODULES:
        if kind in module.crds:
            crd = yaml.safe_load(_crd_text(module, kind))
            group = crd["spec"]["group"]
            for version in crd["spec"]["versions"]:
                if f"{group}/{version['name']}" == api_version:
                    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
                    return dict(_strict(schema))
            raise LookupError(f"{kind}: {module.path}@{module.version} serves no {api_version}")
    raise LookupError(f"{api_version} {kind}: no schema is pinned for this kind")


def problems(document: dict[str, Any]) -> list[str]:
    """What is wrong with one document: nothing when it validates."""
    name = f"{document.get('kind')} {document.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(document, KUBERNETES, strict=True)
        return []
    except kubernetes_validate.SchemaNotFoundError:
        pass
    except kubernetes_validate.ValidationError as error:
        return [f"{name}: {str(error).splitlines()[0]}"]
    try:
        schema = crd_schema(document["apiVersion"], document["kind"])
    except LookupError as error:
        return [f"{name}: {error}"]
    return [
        f"{name}: {'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(document)
    ]


def render(overlay: Path) -> list[dict[str, Any]]:
    """The overlay's documents as ``kustomize build`` (or kubectl's kustomize) renders them."""
    if shutil.which("kustomize"):
        command = ["kustomize", "build", str(overlay)]
    elif shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(overlay)]
    else:
        raise RuntimeError("no kustomize and no kubectl on PATH (./dev test installs kustomize)")
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed: {done.stderr}")
    return [d for d in yaml.safe_load_all(done.stdout) if d]
