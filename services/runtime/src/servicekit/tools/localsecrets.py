"""The secrets of a self-contained deployment, made once per directory and kept there.

``./dev run`` (its data directory), the test suite's broker and the compose stack (its ``secrets`` volume)
each get their own: a throw-away certificate authority that signs the broker's certificate only (its key is
not kept), a random SCRAM password per Kafka principal, a random password per database role and a random
log pseudonym key. Every file is readable by its owner only. A production deployment brings its own CA,
certificates and passwords from its secret store instead and never runs this.

    python -m servicekit.tools.localsecrets DIRECTORY [--broker-host NAME ...]

Layout (what the broker, the provisioning step and the services are pointed at)::

    log-pseudonym.key
    otlp-receiver.token           the bearer token of compose's stand-in trace receiver (its tracing profile)
    kafka/ca.pem                  the CA certificate every client trusts
    kafka/broker.pem              the broker's key, certificate and CA (a PEM key store)
    kafka/users/<principal>.password
    kafka/seals/<principal>.key   its dead-letter seal key (Ed25519), and .pub, what the dead-letter replay reads
    postgres/<role>.password      the superuser's (postgres) and one per service
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from contracts.access import principals
from contracts.catalogue import CATALOGUE
from servicekit.seal import new_key_pair

ADMIN = "admin"
"""The principal that provisions topics and ACLs: a super user of the cluster, used by nothing else."""
BROKER_HOSTS = ("localhost", "127.0.0.1")
VALID_DAYS = 825


def private_dir(path: Path) -> Path:
    """``path`` and any missing folder above it, each made 0700; a folder that exists keeps its mode."""
    for folder in [*reversed(path.parents), path]:
        if not folder.exists():
            folder.mkdir(mode=0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` readable by its owner only (never readable by anyone else, not even for a moment), in a
    folder made by :func:`private_dir` where missing."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def secret(directory: Path | None, name: str) -> str:
    """A random secret: one per directory (kept there as ``name``, so it stays the same across restarts), or a
    new one each call without a directory."""
    if directory is None:
        return secrets.token_hex(32)
    path = directory / name
    if not path.exists():
        write_private(path, secrets.token_hex(32).encode())
    return path.read_text().strip()


@dataclass(frozen=True)
class KafkaSecrets:
    """A broker's TLS material and its SCRAM users' passwords, in one directory (``kafka/`` above)."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def keystore(self) -> Path:
        return self.directory / "broker.pem"

    def password_file(self, principal: str) -> Path:
        return self.directory / "users" / f"{principal}.password"

    def password(self, principal: str) -> str:
        return self.password_file(principal).read_text().strip()

    def users(self) -> list[str]:
        return sorted(p.stem for p in (self.directory / "users").glob("*.password"))

    @property
    def seals(self) -> Path:
        """The consumers' dead-letter seal keys (:mod:`servicekit.seal`): ``<principal>.key`` (private, that
        service's only) and ``<principal>.pub`` (what the operators' replay reads)."""
        return self.directory / "seals"

    def seal_key_file(self, principal: str) -> Path:
        return self.seals / f"{principal}.key"

    def seal_key(self, principal: str) -> Path | None:
        """``principal``'s seal key file, where one was made (secrets made before seals have none: its dead letters
        go unsealed)."""
        path = self.seal_key_file(principal)
        return path if path.exists() else None

    @classmethod
    def ensure(
        cls, directory: Path, users: Iterable[str], hosts: Sequence[str] = BROKER_HOSTS
    ) -> KafkaSecrets:
        """Make what is missing: the CA and broker certificate (once), a password per user (once each)."""
        made = cls(directory)
        if not made.keystore.exists():
            ca_pem, keystore_pem = _broker_certificate(hosts)
            write_private(made.ca, ca_pem)
            write_private(made.keystore, keystore_pem)
        for user in users:
            secret(directory, f"users/{user}.password")
            if not made.seal_key_file(user).exists():
                private, public = new_key_pair()
                write_private(made.seal_key_file(user), private)
                write_private(made.seals / f"{user}.pub", public)
        return made


def default_users() -> list[str]:
    """The admin and every principal the topic catalogue names."""
    return [ADMIN, *principals(CATALOGUE)]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _broker_certificate(hosts: Sequence[str]) -> tuple[bytes, bytes]:
    """A throw-away CA and a broker certificate it signs for ``hosts`` (names or addresses); the CA's key is
    dropped here, so nothing else can ever be signed by it. Returns (CA PEM, broker key + certificate + CA)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"msp-im throw-away CA {secrets.token_hex(4)}")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("broker"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem)
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca_pem, key_pem + cert.public_bytes(pem) + ca_pem


def ensure_deployment(
    directory: Path, *, services: Sequence[str], broker_hosts: Sequence[str]
) -> None:
    """Everything a self-contained deployment needs, made once: see the module's layout."""
    secret(directory, "log-pseudonym.key")
    secret(directory, "otlp-receiver.token")
    KafkaSecrets.ensure(directory / "kafka", default_users(), broker_hosts)
    for role in ("postgres", *services):
        secret(directory, f"postgres/{role}.password")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m servicekit.tools.localsecrets", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--broker-host",
        action="append",
        default=[],
        help="a name or address the broker's certificate is valid for (repeatable); "
        "localhost and 127.0.0.1 always",
    )
    parser.add_argument(
        "--service", action="append", default=[], help="a service given a database role"
    )
    args = parser.parse_args(argv)
    ensure_deployment(
        args.directory, services=args.service, broker_hosts=[*BROKER_HOSTS, *args.broker_host]
    )


if __name__ == "__main__":
    main()
