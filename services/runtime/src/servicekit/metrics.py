"""Prometheus metrics of one service instance (own registry, so tests can run several in a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self._own: dict[str, Gauge] = {}
        labels = {"service": service}
        self.consumed = Counter(
            "messages_consumed",
            "Messages consumed, by outcome.",
            ["topic", "outcome"],
            registry=self.registry,
        ).labels  # outcome: handled | duplicate | dead_lettered
        self.batch_seconds = Histogram(
            "consume_batch_seconds", "Time to handle one polled batch.", registry=self.registry
        )
        self.transient_failures = Counter(
            "transient_failures",
            "Infrastructure failures retried with backoff.",
            ["stage"],
            registry=self.registry,
        ).labels
        self.published = Counter(
            "outbox_published",
            "Outbox messages published to Kafka.",
            ["topic"],
            registry=self.registry,
        ).labels
        self.outbox_pending = Gauge(
            "outbox_pending", "Outbox rows not yet published.", registry=self.registry
        )
        self.consumer_lag = Gauge(
            "consumer_lag",
            "Messages behind the partition's high watermark.",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.downstream_lag = Gauge(
            "downstream_lag",
            "Records on a topic this service writes that a downstream system's consumer group has not yet "
            "committed (the desktop messaging gateway on the SMS dispatch topic).",
            ["topic", "group"],
            registry=self.registry,
        )
        self.timers_fired = Counter(
            "timers_fired", "Scheduler deadlines fired.", registry=self.registry
        )
        self.dead_letters = Counter(
            "dead_letters",
            "Records dead-lettered, by reason.",
            ["topic", "reason"],
            registry=self.registry,
        ).labels
        self.parked = Counter(
            "outbox_parked",
            "Outbox rows the broker refused for good, parked.",
            ["topic", "reason"],
            registry=self.registry,
        ).labels
        self.producers_renewed = Counter(
            "producers_renewed",
            "Relay producers replaced after the broker refused their sequence state.",
            registry=self.registry,
        )
        self.positions_lost = Counter(
            "consumer_positions_lost",
            "Partitions whose stored position is older than the topic's earliest record (a restore behind the "
            "topic's retention): the consumer stops rather than skip what it can no longer read.",
            ["topic"],
            registry=self.registry,
        ).labels
        self.consumer_crashes = Counter(
            "consumer_crashes",
            "Consume-loop failures that were not transient.",
            registry=self.registry,
        )
        self.timers_quarantined = Counter(
            "timers_quarantined",
            "Timers that failed to fire and were quarantined.",
            registry=self.registry,
        )
        self.outbox_oldest_age = Gauge(
            "outbox_oldest_age_seconds",
            "Age of the oldest outbox row not yet published.",
            registry=self.registry,
        )
        self.outbox_parked_rows = Gauge(
            "outbox_parked_rows",
            "Outbox rows parked, waiting for an operator.",
            registry=self.registry,
        )
        self.consumer_idle = Gauge(
            "consumer_progress_age_seconds",
            "Seconds since the consumer last committed a poll or found nothing to do.",
            registry=self.registry,
        )
        self.timers_overdue_age = Gauge(
            "timers_oldest_overdue_seconds",
            "How long the oldest due, unquarantined timer has waited.",
            registry=self.registry,
        )
        self.timers_quarantined_rows = Gauge(
            "timers_quarantined_rows", "Timers in quarantine.", registry=self.registry
        )
        self.ready = Gauge(
            "service_ready",
            "1 while every readiness check passes (what /ready answers 200 to), else 0.",
            registry=self.registry,
        )
        self.ready_check = Gauge(
            "service_ready_check",
            "1 while the named readiness check passes, else 0.",
            ["check"],
            registry=self.registry,
        ).labels
        self.info = Gauge(
            "service_info",
            "Constant 1, labelled with the service name.",
            ["service"],
            registry=self.registry,
        )
        self.info.labels(**labels).set(1)

    def own_gauge(self, name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        """A gauge of the service's own (its spec's ``gauges`` sets it), made once in this registry."""
        if name not in self._own:
            self._own[name] = Gauge(name, documentation, list(labels), registry=self.registry)
        return self._own[name]
