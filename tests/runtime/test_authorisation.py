"""Who may do what, on the real, secured broker (SASL/SCRAM over TLS, an authoriser that denies whatever no ACL
allows), with the ACLs the catalogue generates for this test's topic prefix.

Issue 14, as found on the open broker: "an anonymous client ceased an expense as officer
`ATTACKER-NOT-AN-OFFICER` [...] read mobiles and behaviours from `msp.approvals`, created and deleted topics,
and joined the `expenses` consumer group, committing past a payment attempt that was then never handled".
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.metadata import MetadataRequest

from contracts.access import acls
from contracts.catalogue import CATALOGUE
from servicekit.broker import describe_acls
from servicekit.tools.localsecrets import ADMIN
from tests.conftest import KafkaInfo
from tests.support.bus import provision_catalogue

pytestmark = pytest.mark.integration

BOUND_S = 60.0
"""A refusal comes at once; the bound only keeps a wrongly accepted client from hanging the test."""


@pytest.fixture
async def prefix(kafka: KafkaInfo, topic_prefix: str) -> str:
    await provision_catalogue(topic_prefix, partitions=1)
    return topic_prefix


async def produce(options: dict[str, Any], topic: str) -> None:
    producer = AIOKafkaProducer(
        **options, acks="all", enable_idempotence=True, request_timeout_ms=10000
    )
    try:
        await asyncio.wait_for(producer.start(), BOUND_S)
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"k"), BOUND_S)
    finally:
        await producer.stop()


async def consume(options: dict[str, Any], topic: str, group: str | None = None) -> None:
    """Read ``topic`` (in ``group``, committing, as a service does; or assigned, with no group)."""
    consumer = AIOKafkaConsumer(
        **options, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    try:
        await asyncio.wait_for(consumer.start(), BOUND_S)
        if group is None:
            consumer.assign([TopicPartition(topic, 0)])
        else:
            consumer.subscribe([topic])
        await asyncio.wait_for(consumer.getmany(timeout_ms=5000), BOUND_S)
        if group is not None:
            await asyncio.wait_for(consumer.commit(), BOUND_S)
    finally:
        await consumer.stop()


async def administer(options: dict[str, Any], prefix: str) -> None:
    admin = AIOKafkaAdminClient(**options, request_timeout_ms=10000)
    try:
        await asyncio.wait_for(admin.start(), BOUND_S)
        response = await admin.create_topics([NewTopic(prefix + "forged", 1, 1)])
        codes = [code for _, code, *_ in response.topic_errors]
        if codes != [0]:
            raise TopicAuthorizationFailedError(f"create refused: {codes}")
        await admin.delete_topics([prefix + "msp.approvals"])
    finally:
        await admin.close()


TOPIC_AUTHORIZATION_FAILED = TopicAuthorizationFailedError.errno


async def topic_error(options: dict[str, Any], topic: str) -> int:
    """The error code the broker answers a metadata request for ``topic`` with (0: the client may see it)."""
    client = AIOKafkaClient(**options)
    try:
        await asyncio.wait_for(client.bootstrap(), BOUND_S)
        response = await client.send(
            client.get_random_node(), MetadataRequest([topic], allow_auto_topic_creation=False)
        )
        [(code, name, *_)] = response.topics
        assert name == topic
        return int(code)
    finally:
        await client.close()


def anonymous(kafka: KafkaInfo) -> dict[str, dict[str, Any]]:
    """Every way in without a password: plain TCP, TLS with no SASL, and SASL with a wrong password."""
    tls = create_ssl_context(cafile=str(kafka.settings(ADMIN)["kafka_ssl_cafile"]))
    wrong = {**kafka.access.client("expenses"), "sasl_plain_password": "not-the-password"}
    return {
        "plaintext": {"bootstrap_servers": kafka.bootstrap_servers},
        "tls-without-sasl": {
            "bootstrap_servers": kafka.bootstrap_servers,
            "security_protocol": "SSL",
            "ssl_context": tls,
        },
        "wrong-password": wrong,
    }


async def refused(attempt: Any) -> BaseException:
    try:
        await attempt
    except (KafkaError, OSError, ssl.SSLError) as exc:
        return exc
    raise AssertionError("the broker accepted what it must refuse")


async def test_an_anonymous_client_cannot_connect_produce_consume_or_administer(
    kafka: KafkaInfo, prefix: str
):
    for way, options in anonymous(kafka).items():
        for what, attempt in (
            ("produce", produce(options, prefix + "im.expense-actions")),
            ("consume", consume(options, prefix + "msp.approvals", prefix + "expenses")),
            ("administer", administer(options, prefix)),
        ):
            error = await refused(attempt)
            assert isinstance(error, KafkaConnectionError | KafkaError | OSError), (
                f"{way}/{what}: {error!r}"
            )


async def test_a_service_cannot_write_another_services_topic_nor_the_staff_commands(
    kafka: KafkaInfo, prefix: str
):
    expenses = kafka.access.client("expenses")
    await produce(expenses, prefix + "im.expense-events")  # its own
    await produce(expenses, prefix + "im.payment-attempts.dlq")  # its dead letters
    for forged in (
        "msp.notification-events",
        "workitems.events",
        "im.expense-actions",
        "workitems.commands",
    ):
        error = await refused(produce(expenses, prefix + forged))
        assert isinstance(error, TopicAuthorizationFailedError), (forged, error)


async def test_a_service_cannot_read_an_input_it_does_not_consume(kafka: KafkaInfo, prefix: str):
    """workitems never sees mobiles and behaviours: ``msp.approvals`` is notification's input only; it may not
    even learn that the topic exists. A producer cannot read back what it wrote."""
    await produce(kafka.access.client("msp-approvals"), prefix + "msp.approvals")
    assert (
        await topic_error(kafka.access.client("workitems"), prefix + "msp.approvals")
        == TOPIC_AUTHORIZATION_FAILED
    )
    assert await topic_error(kafka.access.client("notification"), prefix + "msp.approvals") == 0
    await produce(kafka.access.client("notification"), prefix + "msp.notification-events")
    error = await refused(
        consume(kafka.access.client("notification"), prefix + "msp.notification-events")
    )
    assert isinstance(error, TopicAuthorizationFailedError)


async def test_a_service_cannot_join_another_services_consumer_group(kafka: KafkaInfo, prefix: str):
    error = await refused(
        consume(kafka.access.client("notification"), prefix + "msp.approvals", prefix + "expenses")
    )
    assert isinstance(error, GroupAuthorizationFailedError)


async def test_an_upstream_principal_writes_only_its_topic_and_reads_only_its_own_dead_letters(
    kafka: KafkaInfo, prefix: str
):
    payments = kafka.access.client("payments-system")
    await produce(payments, prefix + "im.payment-attempts")
    error = await refused(produce(payments, prefix + "im.expense-actions"))
    assert isinstance(error, TopicAuthorizationFailedError), (
        "a payment system cannot cease an expense"
    )
    error = await refused(consume(payments, prefix + "im.payment-attempts"))
    assert isinstance(error, TopicAuthorizationFailedError)
    await consume(
        payments, prefix + "im.payment-attempts.dlq"
    )  # what of its own was refused, and why
    for others in ("msp.approvals.dlq", "im.expense-actions.dlq", "im.expense-events"):
        assert await topic_error(payments, prefix + others) == TOPIC_AUTHORIZATION_FAILED, others
    error = await refused(
        consume(payments, prefix + "im.payment-attempts.dlq", prefix + "expenses")
    )
    assert isinstance(error, GroupAuthorizationFailedError), "it reads assigned, in no group"


async def test_no_principal_but_the_admin_creates_or_deletes_topics(kafka: KafkaInfo, prefix: str):
    for principal in ("expenses", "console", "payments-system"):
        error = await refused(administer(kafka.access.client(principal), prefix))
        assert isinstance(error, KafkaError), (principal, error)


async def test_the_broker_enforces_exactly_the_acls_the_catalogue_generates(
    kafka: KafkaInfo, prefix: str
):
    enforced = await describe_acls(kafka.access.admin_settings())
    assert {a for a in enforced if a.name.startswith(prefix)} == set(acls(CATALOGUE, prefix))


def broker_log(kafka: KafkaInfo) -> str:
    assert kafka.local is not None, (
        "this test reads the broker's log: it needs the run's own broker"
    )
    return kafka.local.log_text()


async def broker_logs(
    kafka: KafkaInfo, since: int, *fragments: str, timeout_s: float = 60.0
) -> str:
    """The first line the broker logged after offset ``since`` holding every one of ``fragments``, polled until
    it is written."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        lines = broker_log(kafka)[since:].splitlines()
        line = next((ln for ln in lines if all(f in ln for f in fragments)), None)
        if line is not None:
            return line
        assert asyncio.get_running_loop().time() < deadline, f"no broker log line with {fragments}"
        await asyncio.sleep(0.2)


@pytest.mark.own_servers
async def test_the_broker_logs_every_failed_login_and_every_denied_operation_for_the_operator(
    kafka: KafkaInfo, prefix: str
):
    """Issue 26: "the broker logs neither failed logins nor ACL refusals"."""
    since = len(broker_log(kafka))
    await refused(produce(anonymous(kafka)["wrong-password"], prefix + "im.expense-actions"))
    await broker_logs(kafka, since, "Failed authentication", "invalid credentials")
    since = len(broker_log(kafka))
    await refused(produce(anonymous(kafka)["plaintext"], prefix + "im.expense-actions"))
    await broker_logs(kafka, since, "Failed authentication", "SSL handshake failed")
    forged = prefix + "workitems.commands"
    await refused(produce(kafka.access.client("expenses"), forged))
    line = await broker_logs(kafka, 0, "User:expenses", "Denied", forged)
    assert "WRITE" in line or "DESCRIBE" in line, line


@pytest.mark.own_servers
async def test_the_security_log_names_a_client_that_never_authenticates_and_a_flood_of_refusals_is_bounded(
    kafka: KafkaInfo, prefix: str
):
    """Issue 37, finding 10: "any authenticated principal can flood the broker's security log (about 100,000 lines
    a minute, no rotation); a client that completes TLS but never authenticates leaves no line"."""
    host, port = kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)
    assert kafka.access.secrets is not None
    since = len(broker_log(kafka))
    context = ssl.create_default_context(cafile=str(kafka.access.secrets.ca))
    with context.wrap_socket(
        await asyncio.to_thread(socket.create_connection, (host, int(port)), BOUND_S),
        server_hostname=host,
    ) as tls:
        assert tls.version()  # the handshake completed; nothing more is said
    await broker_logs(kafka, since, "disconnected", "KafkaChannel.prepare")

    forbidden = prefix + "workitems.commands"
    since = len(broker_log(kafka))
    client = AIOKafkaClient(**kafka.access.client("expenses"))
    try:
        await asyncio.wait_for(client.bootstrap(), BOUND_S)
        node = client.get_random_node()
        started = asyncio.get_running_loop().time()
        for _ in range(2000):  # each one denied, each one a line were nothing bounding them
            await client.send(node, MetadataRequest([forbidden], allow_auto_topic_creation=False))
        took = asyncio.get_running_loop().time() - started
    finally:
        await client.close()
    await broker_logs(kafka, since, "User:expenses", "Denied", forbidden)
    denied = [
        line
        for line in broker_log(kafka)[since:].splitlines()
        if "Denied" in line and forbidden in line
    ]
    assert len(denied) <= 200 + 20 * (took + 5), (len(denied), took)
    assert len(denied) < 2000, "the flood was cut"
