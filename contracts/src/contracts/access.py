"""Who may do what on the bus, derived from the topic catalogue alone: the broker's ACLs, deny by default.

Every producer and consumer the catalogue names is a principal. A producer may write (and describe) the
topics it produces; a consumer may read (and describe) the topics it consumes, write their dead-letter
topics (whoever consumes a topic dead-letters what it cannot handle there), and use its own consumer group
(named after it, with the deployment's prefix). Nothing else is granted: a topic or a consumer added to the
catalogue changes these entries with no other edit. The admin principal that provisions topics and ACLs is a
super user of the cluster and appears in no entry.

Dead letters are written by the consumers (each may write the dead-letter topics of what it consumes: it is
the one that finds a record it cannot handle), so a dead letter's headers are a consumer's word, not proof. The
operators' replay therefore runs as its own principal, :data:`DLQ_REPLAYER`: it may read every consumed topic
and its dead-letter topic, and write exactly those (a replay to the input, a marker to the dead-letter topic);
it re-sends the record found at the dead letter's origin, never the dead letter's own copy unless an operator
confirmed it (``servicekit.tools.dlq``). It belongs to no consumer group and may create nothing.

An upstream system (a producer that consumes nothing) may read the dead-letter topic of each topic it produces, so
that it learns which of its records were refused and why (the ``dlq.reason`` header); see :func:`upstream`. It may
read the outcome of each of its records too (the topic that answers its topic, :mod:`contracts.outcomes`), with a
group of its own (:func:`outcome_group`). The
producer of a topic a downstream system reads may describe that system's consumer group; see :func:`downstream`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contracts.topics import Catalogue


class Operation(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    DESCRIBE = "DESCRIBE"
    DESCRIBE_CONFIGS = "DESCRIBE_CONFIGS"
    """A consumer reads its topics' retention at start (it must outlast the oldest backup it may be restored to)."""


class Resource(StrEnum):
    TOPIC = "TOPIC"
    GROUP = "GROUP"


@dataclass(frozen=True, order=True)
class Acl:
    """ALLOW ``principal`` ``operation`` on the resource of that type and literal name (prefix applied)."""

    principal: str
    resource: Resource
    name: str
    operation: Operation

    @property
    def kafka_principal(self) -> str:
        return f"User:{self.principal}"


DLQ_REPLAYER = "dlq-replayer"
"""The operators' dead-letter replay (``python -m servicekit.tools.dlq``): reads inputs and dead letters, re-sends."""


def acls(catalogue: Catalogue, prefix: str = "") -> list[Acl]:
    """Every ALLOW entry of the deployment whose topic prefix is ``prefix``, sorted, without repeats."""
    found: set[Acl] = set()
    for topic in catalogue.topics:
        name = prefix + topic.name
        found |= {
            Acl(topic.producer, Resource.TOPIC, name, op)
            for op in (Operation.WRITE, Operation.DESCRIBE)
        }
        if topic.consumers:
            found |= {
                Acl(DLQ_REPLAYER, Resource.TOPIC, t, op)
                for t in (name, prefix + topic.dlq)
                for op in (Operation.READ, Operation.WRITE, Operation.DESCRIBE)
            }
        for consumer in topic.consumers:
            found |= {
                Acl(consumer, Resource.TOPIC, name, op)
                for op in (Operation.READ, Operation.DESCRIBE)
            }
            # one of our services: it checks its topics' retention at start
            if consumer not in downstream(catalogue):
                found.add(Acl(consumer, Resource.TOPIC, name, Operation.DESCRIBE_CONFIGS))
            found |= {
                Acl(consumer, Resource.TOPIC, prefix + topic.dlq, op)
                for op in (Operation.WRITE, Operation.DESCRIBE)
            }
            found.add(Acl(consumer, Resource.GROUP, prefix + consumer, Operation.READ))
    found |= {
        Acl(topic.producer, Resource.TOPIC, prefix + topic.dlq, op)
        for topic in catalogue.topics
        if topic.consumers and topic.producer in upstream(catalogue)
        for op in (Operation.READ, Operation.DESCRIBE)
    }
    # and with a consumer group of its own, which every client's recipe may use (librdkafka needs one)
    found |= {
        Acl(principal, Resource.GROUP, prefix + dead_letter_group(principal), Operation.READ)
        for principal in upstream(catalogue)
    }
    # and the outcome of each of its records (contracts.outcomes), with a group of its own for that
    for topic in catalogue.topics:
        reader = catalogue.reader_of(topic)
        if reader is not None:
            found |= {
                Acl(reader, Resource.TOPIC, prefix + topic.name, op)
                for op in (Operation.READ, Operation.DESCRIBE)
            }
            found.add(Acl(reader, Resource.GROUP, prefix + outcome_group(reader), Operation.READ))
    found |= {
        Acl(topic.producer, Resource.GROUP, prefix + consumer, Operation.DESCRIBE)
        for topic in catalogue.topics
        for consumer in topic.consumers
        if consumer in downstream(catalogue)
    }
    return sorted(found)


def dead_letter_group(principal: str) -> str:
    """The consumer group an upstream system reads its dead letters with (the deployment's prefix before it)."""
    return f"{principal}.dead-letters"


def outcome_group(principal: str) -> str:
    """The consumer group an upstream system reads its records' outcomes with (the deployment's prefix before it)."""
    return f"{principal}.outcomes"


def downstream(catalogue: Catalogue) -> set[str]:
    """The systems downstream of ours: principals that consume topics and produce none (the
    ``desktop-messaging-gateway``). The producer of a topic one reads may describe its consumer group (its offsets,
    never a record): the only way to learn that what it asked for is not being done (``servicekit.downstream``)."""
    producers = {t.producer for t in catalogue.topics}
    return {c for t in catalogue.topics for c in t.consumers} - producers


def upstream(catalogue: Catalogue) -> set[str]:
    """The systems upstream of ours: principals that produce topics and consume none (``payments-system``,
    ``msp-approvals``). Each may read the dead letters of the topics it produces, with its own consumer group
    (:func:`dead_letter_group`) or none: what of its own was refused, and why. Only it writes those topics, so
    nobody else's data is there."""
    consumers = {c for t in catalogue.topics for c in t.consumers}
    return {t.producer for t in catalogue.topics} - consumers


def principals(catalogue: Catalogue) -> list[str]:
    """Every principal the catalogue names, producers and consumers alike, and the dead-letter replayer."""
    return sorted(
        {t.producer for t in catalogue.topics}
        | {c for t in catalogue.topics for c in t.consumers}
        | {DLQ_REPLAYER}
    )


def acl_table(catalogue: Catalogue) -> str:
    """The manual's table: per principal, what it may write, read, which group it uses, and which downstream
    system's group it may describe."""
    entries = acls(catalogue)
    lines = ["| principal | may write | may read | consumer group |", "|---|---|---|---|"]
    for principal in principals(catalogue):
        mine = [a for a in entries if a.principal == principal]

        def names(op: Operation, entries: list[Acl] = mine) -> str:
            return (
                ", ".join(
                    f"`{a.name}`"
                    for a in entries
                    if a.operation is op and a.resource is Resource.TOPIC
                )
                or "–"
            )

        group = (
            ", ".join(
                f"`{a.name}`"
                for a in mine
                if a.resource is Resource.GROUP and a.operation is Operation.READ
            )
            or "–"
        )
        watched = [
            f"`{a.name}`"
            for a in mine
            if a.resource is Resource.GROUP and a.operation is Operation.DESCRIBE
        ]
        if watched:
            group += f" (and describes {', '.join(watched)})"
        lines.append(
            f"| {principal} | {names(Operation.WRITE)} | {names(Operation.READ)} | {group} |"
        )
    return "\n".join(lines)
