"""Builds the project's container images with a local Docker engine, without a registry if need be.

    python -m devstack images [--public]

* ``msp-im/base:bookworm``: where no registry is reachable, the base every image starts from, made
  here: a minimal Debian bookworm root file system (``debootstrap``, from Debian's package mirror)
  with Python 3.11, a Java 17 runtime and PostgreSQL 15, imported with ``docker import``. Built once.
* ``msp-im/kafka:<version>``: the broker jars the launcher resolves from Maven Central, on the base
  (or on ``eclipse-temurin:17-jre`` with ``--public``), configured by ``KAFKA_*`` variables.
* ``msp-im/postgres:15``: PostgreSQL on the base (with ``--public`` the stack uses ``postgres:16``).
* ``msp-im/service:<version>``: the three services (wheels built here, installed with no index), on
  the base (or ``python:3.11-slim``).

Everything is reused: the base when it exists, every layer through Docker's build cache.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devstack.kafka import LOG4J2, kafka_version, resolve_jars
from devstack.lock import SERVICE_PACKAGES

ROOT = Path(__file__).resolve().parents[4]
IMAGES = ROOT / "deploy" / "images"
LOCAL_BASE = "msp-im/base:bookworm"
BASE_PACKAGES = (
    "python3",
    "python3-venv",
    "openjdk-17-jre-headless",
    "postgresql-15",
    "ca-certificates",
)
PUBLIC = {
    "kafka": "eclipse-temurin:17-jre",
    "service": "python:3.11-slim",
    "postgres": "postgres:16",
}
PACKAGES = ("contracts", *SERVICE_PACKAGES)


@dataclass(frozen=True)
class Images:
    kafka: str
    postgres: str
    service: str


def docker(
    *args: str, stdin: bytes | None = None, quiet: bool = True
) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(["docker", *args], input=stdin, capture_output=quiet, check=False)
    if result.returncode != 0:
        detail = (result.stderr or b"").decode(errors="replace")[-4000:]
        raise RuntimeError(
            f"docker {' '.join(args[:3])} ... failed ({result.returncode}):\n{detail}"
        )
    return result


def image_exists(tag: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", tag], capture_output=True, check=False
        ).returncode
        == 0
    )


def local_base(say: Callable[[str], None]) -> str:
    """The bookworm base, made with debootstrap and imported, unless it exists."""
    if image_exists(LOCAL_BASE):
        return LOCAL_BASE
    if shutil.which("debootstrap") is None:
        raise RuntimeError(
            "no registry base and no debootstrap: install Debian's debootstrap package"
        )
    started = time.monotonic()
    rootfs = Path(tempfile.mkdtemp(prefix="rootfs-"))
    try:
        say(f"[images] debootstrap bookworm with {', '.join(BASE_PACKAGES)} ...")
        result = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                "bookworm",
                str(rootfs),
                "http://deb.debian.org/debian",
            ],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"debootstrap failed:\n{result.stdout.decode(errors='replace')[-3000:]}"
            )
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        assert tar.stdout is not None
        imported = subprocess.run(
            [
                "docker",
                "import",
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change",
                "ENV LANG=C.UTF-8",
                "-",
                LOCAL_BASE,
            ],
            stdin=tar.stdout,
            capture_output=True,
            check=False,
        )
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise RuntimeError(f"docker import failed: {imported.stderr.decode(errors='replace')}")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    say(f"[images] {LOCAL_BASE} made in {time.monotonic() - started:.0f} s")
    return LOCAL_BASE


def build(name: str, tag: str, base: str, stage: Callable[[Path], None]) -> str:
    with tempfile.TemporaryDirectory(prefix=f"image-{name}-") as tmp:
        context = Path(tmp)
        for f in (IMAGES / name).iterdir():
            shutil.copy(f, context / f.name)
        stage(context)
        docker("build", "--build-arg", f"BASE={base}", "-t", tag, str(context))
    return tag


def _kafka_context(context: Path) -> None:
    shutil.copytree(resolve_jars(), context / "jars")
    shutil.copy(LOG4J2, context / "log4j2.xml")


def _service_context(context: Path) -> None:
    """Every locked file, checked against its hash, and the project's wheels; the image installs from these alone."""
    wheels = context / "wheels"
    lock = str(ROOT / "requirements.lock")
    for step in (
        ["download", "--quiet", "--require-hashes", "--no-deps", "-d", str(wheels), "-r", lock],
        [
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            *(str(ROOT / p) for p in PACKAGES),
        ],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "pip", *step], capture_output=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"pip {step[0]} failed:\n{result.stderr.decode(errors='replace')[-3000:]}"
            )


def service_version() -> str:
    import tomllib

    return str(
        tomllib.loads((ROOT / "services" / "runtime" / "pyproject.toml").read_text())["project"][
            "version"
        ]
    )


def build_images(*, public: bool = False, say: Callable[[str], None] = print) -> Images:
    started = time.monotonic()
    base = None if public else local_base(say)
    kafka = build(
        "kafka", f"msp-im/kafka:{kafka_version()}", base or PUBLIC["kafka"], _kafka_context
    )
    service = build(
        "service",
        f"msp-im/service:{service_version()}",
        base or PUBLIC["service"],
        _service_context,
    )
    postgres = (
        PUBLIC["postgres"]
        if public
        else build("postgres", "msp-im/postgres:15", LOCAL_BASE, lambda _: None)
    )
    say(f"[images] {kafka}, {postgres}, {service} ready in {time.monotonic() - started:.0f} s")
    return Images(kafka, postgres, service)
