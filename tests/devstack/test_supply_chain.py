"""The supply chain: every Python package installed is pinned with its hash, and Maven refuses a jar whose
checksum is not the repository's."""

from __future__ import annotations

import hashlib
import re
import uuid
from importlib import metadata
from pathlib import Path

import pytest

from devstack.kafka import maven_copy_dependencies
from devstack.lock import LOCK, PACKAGES, pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.unit
def test_every_installed_python_package_is_pinned_with_a_hash_in_the_lock():
    locked = {_normal(p.split("==")[0]): p.split("==")[1] for p in pins()}
    ours = {_normal(Path(p).name) for p in PACKAGES} | {"servicekit"}
    installed = {_normal(d.metadata["Name"]): d.version for d in metadata.distributions()}
    unpinned = {n: v for n, v in installed.items() if n not in ours and locked.get(n) != v}
    assert unpinned == {}, "installed but not as locked: run ./dev lock"
    entries = LOCK.read_text().split("\n", 2)[2].split(" \\\n    --hash")
    assert all(re.fullmatch(r"=sha256:[0-9a-f]{64}(\n[^\n]+==[^\n]+)?\n?", e) for e in entries[1:])


def _artifact(repo: Path, group: str, name: str, jar: bytes, *, sha1_of: bytes) -> None:
    folder = repo.joinpath(*group.split("."), name, "1.0")
    folder.mkdir(parents=True)
    pom = (
        f'<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>{group}</groupId><artifactId>{name}</artifactId><version>1.0</version></project>"
    ).encode()
    for suffix, content, checked in ((".pom", pom, pom), (".jar", jar, sha1_of)):
        (folder / f"{name}-1.0{suffix}").write_bytes(content)
        (folder / f"{name}-1.0{suffix}.sha1").write_text(hashlib.sha1(checked).hexdigest())


def _consumer_pom(folder: Path, repo: Path, group: str, name: str) -> Path:
    pom = folder / f"{name}.xml"
    pom.write_text(f"""<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
      <groupId>t</groupId><artifactId>t-{name}</artifactId><version>1</version><packaging>pom</packaging>
      <repositories><repository><id>under-test</id><url>{repo.as_uri()}</url></repository></repositories>
      <dependencies><dependency><groupId>{group}</groupId><artifactId>{name}</artifactId><version>1.0</version>
      </dependency></dependencies></project>""")
    return pom


@pytest.mark.integration  # runs Maven (its plugins from the local repository the broker's jars came through)
def test_maven_refuses_a_jar_whose_checksum_is_not_the_repositorys_and_takes_one_that_matches(
    tmp_path,
):
    """The broker's jars come through the same call: `mvn -q` alone had accepted a jar with a wrong checksum."""
    repo, group = tmp_path / "repo", f"test.supplychain.g{uuid.uuid4().hex[:8]}"
    _artifact(repo, group, "genuine", b"PK genuine jar", sha1_of=b"PK genuine jar")
    _artifact(repo, group, "tampered", b"PK tampered jar", sha1_of=b"PK the jar that was published")
    genuine = maven_copy_dependencies(
        _consumer_pom(tmp_path, repo, group, "genuine"), tmp_path / "out-genuine"
    )
    assert genuine.returncode == 0, genuine.stdout + genuine.stderr
    assert (tmp_path / "out-genuine" / "genuine-1.0.jar").read_bytes() == b"PK genuine jar"
    tampered = maven_copy_dependencies(
        _consumer_pom(tmp_path, repo, group, "tampered"), tmp_path / "out-tampered"
    )
    assert tampered.returncode != 0
    assert "checksum" in (tampered.stdout + tampered.stderr).lower()
    assert not (tmp_path / "out-tampered" / "tampered-1.0.jar").exists()
