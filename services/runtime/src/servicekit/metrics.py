"""Prometheus metrics of one service instance (own registry, so tests can run several in a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"service": service}
        self.consumed = Counter("messages_consumed", "Messages consumed, by outcome.", ["topic", "outcome"],
                                registry=self.registry).labels  # outcome: handled | duplicate | dead_lettered
        self.batch_seconds = Histogram("consume_batch_seconds", "Time to handle one polled batch.",
                                       registry=self.registry)
        self.transient_failures = Counter("transient_failures", "Infrastructure failures retried with backoff.",
                                          ["stage"], registry=self.registry).labels
        self.published = Counter("outbox_published", "Outbox messages published to Kafka.", ["topic"],
                                 registry=self.registry).labels
        self.outbox_pending = Gauge("outbox_pending", "Outbox rows not yet published.", registry=self.registry)
        self.consumer_lag = Gauge("consumer_lag", "Messages behind the partition's high watermark.",
                                  ["topic", "partition"], registry=self.registry)
        self.timers_fired = Counter("timers_fired", "Scheduler deadlines fired.", registry=self.registry)
        self.info = Gauge("service_info", "Constant 1, labelled with the service name.", ["service"],
                          registry=self.registry)
        self.info.labels(**labels).set(1)
