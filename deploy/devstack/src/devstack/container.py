"""Kafka in a container through testcontainers, for machines with a Docker engine.

testcontainers-python's ``KafkaContainer`` only understands Confluent images, so this is a
generic container configured for single-node KRaft with an explicit wait strategy. The image
is a setting (``KAFKA_TEST_IMAGE``): the project's ``msp-im/kafka`` (``python -m devstack images``),
whose entrypoint secures the broker from a mounted secrets directory made here, as the local
launcher does: SASL/SCRAM over TLS, a user per principal, ACLs enforced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.kafka import KafkaAccess
from devstack.procs import free_port
from servicekit.tools.localsecrets import KafkaSecrets, default_users

SECRETS_IN_CONTAINER = "/run/kafka-secrets"


def docker_available() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no engine here"
        return False


@dataclass
class ContainerKafka:
    container: Any
    port: int
    image: str
    secrets: KafkaSecrets

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def access(self) -> KafkaAccess:
        return KafkaAccess(self.bootstrap_servers, self.secrets)

    @classmethod
    def start(
        cls, image: str | None = None, timeout: float = 120, *, users: Iterable[str] = ()
    ) -> ContainerKafka:
        # Ryuk, testcontainers' reaper, is an image from Docker Hub, which a machine without a registry cannot
        # pull; the test command removes what it started instead (and stops an engine it started itself).
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.wait_strategies import LogMessageWaitStrategy

        image = image or os.environ["KAFKA_TEST_IMAGE"]
        port = free_port()  # advertised to clients, so fixed before the container starts
        secrets = KafkaSecrets.ensure(
            Path(tempfile.mkdtemp(prefix="kafka-secrets-")), {*default_users(), *users}
        )
        env = {
            "KAFKA_SECRETS_DIR": SECRETS_IN_CONTAINER,
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": "SASL_SSL://0.0.0.0:9092,CONTROLLER://localhost:9093",
            "KAFKA_ADVERTISED_LISTENERS": f"SASL_SSL://127.0.0.1:{port}",
            "KAFKA_INTER_BROKER_LISTENER_NAME": "SASL_SSL",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "SASL_SSL:SASL_SSL,CONTROLLER:SSL",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        }
        container = (
            DockerContainer(image)
            .with_bind_ports(9092, port)
            .with_volume_mapping(str(secrets.directory), SECRETS_IN_CONTAINER, "ro")
        )
        for key, value in env.items():
            container = container.with_env(key, value)
        container = container.waiting_for(
            LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(int(timeout))
        )
        try:
            container.start()
        except BaseException:
            shutil.rmtree(secrets.directory, ignore_errors=True)
            raise
        return cls(container, port, image, secrets)

    def log_text(self) -> str:
        """What the broker has logged (its start, warnings, failed logins and denied operations)."""
        return bytes(self.container.get_wrapped_container().logs()).decode(errors="replace")

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop (and remove) the container; with ``keep_data`` only stop it, for :meth:`restart`."""
        if keep_data:
            self.container.get_wrapped_container().stop(timeout=30)
        else:
            self.container.stop()
            shutil.rmtree(self.secrets.directory, ignore_errors=True)

    def restart(self) -> None:
        """Start again after ``stop(keep_data=True)``: same port, same data (the fault tests' broker outage)."""
        wrapped = self.container.get_wrapped_container()
        before = wrapped.logs().count(b"Kafka Server started")
        wrapped.start()
        deadline = time.monotonic() + 120
        while wrapped.logs().count(b"Kafka Server started") <= before:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the Kafka container did not start again: {wrapped.logs()[-2000:]!r}"
                )
            time.sleep(0.2)
