"""The services' Kafka clients connect as their settings say: one set of options for the consumer, the producer,
the admin client and faststream's broker; the password is a secret."""

from __future__ import annotations

import datetime as dt
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.security import SASLScram512

from expenses.app import ExpensesSettings
from servicekit.broker import _faststream_security, client_options

pytestmark = pytest.mark.unit


def a_ca(tmp_path) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def test_the_default_is_sasl_ssl_and_plaintext_is_only_what_is_asked_for():
    assert ExpensesSettings().kafka_security_protocol == "SASL_SSL", (
        "authenticated and encrypted by default"
    )
    plain = ExpensesSettings(kafka_bootstrap_servers="b:9092", kafka_security_protocol="PLAINTEXT")
    assert client_options(plain) == {
        "bootstrap_servers": "b:9092",
        "security_protocol": "PLAINTEXT",
    }
    assert _faststream_security(plain) is None


def test_sasl_ssl_verifies_the_broker_against_the_ca_and_authenticates_as_the_services_principal(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")  # shared by the whole system
    monkeypatch.setenv("KAFKA_SSL_CAFILE", a_ca(tmp_path))
    monkeypatch.setenv("EXPENSES_KAFKA_SASL_USERNAME", "expenses")  # the service's own
    monkeypatch.setenv("EXPENSES_KAFKA_SASL_PASSWORD", "s3cret-of-expenses")
    settings = ExpensesSettings()
    options = client_options(settings)
    context: ssl.SSLContext = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "expenses",
        "sasl_plain_password": "s3cret-of-expenses",
    }
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    security = _faststream_security(settings)
    assert isinstance(security, SASLScram512)
    assert security.use_ssl
    assert "s3cret" not in repr(settings), (
        "the password is a secret in the settings' representation"
    )


def test_the_principal_defaults_to_the_service_name_and_the_password_may_be_a_mounted_file(
    tmp_path,
):
    secret = tmp_path / "expenses.password"
    secret.write_text("from-a-mounted-secret\n")
    options = client_options(ExpensesSettings(kafka_sasl_password_file=secret))
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "expenses",
        "from-a-mounted-secret",
    )


def test_sasl_without_a_password_is_refused_before_any_connection():
    with pytest.raises(ValueError, match="KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE"):
        client_options(ExpensesSettings(kafka_security_protocol="SASL_SSL"))
