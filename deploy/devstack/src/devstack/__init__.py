"""Local infrastructure for development, tests and demos: a real Kafka broker and a real PostgreSQL.

Nothing here is a mock. Both servers are child processes of the command that starts them and
die with it (``PR_SET_PDEATHSIG``), so a crashed or interrupted test run leaves nothing behind.
"""

from devstack.kafka import LocalKafka, kafka_version
from devstack.postgres import LocalPostgres

__all__ = ["LocalKafka", "LocalPostgres", "kafka_version"]
