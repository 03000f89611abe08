"""The bus's ACLs come from the catalogue alone, deny by default: what each principal may do, and may not."""

from __future__ import annotations

import dataclasses

import pytest

from contracts.access import (
    DLQ_REPLAYER,
    Acl,
    Operation,
    Resource,
    acls,
    downstream,
    principals,
    upstream,
)
from contracts.catalogue import CATALOGUE, PAYMENT_ATTEMPTS
from contracts.topics import Catalogue

pytestmark = pytest.mark.unit


def may(principal: str, operation: Operation, prefix: str = "") -> set[str]:
    return {
        a.name
        for a in acls(CATALOGUE, prefix)
        if a.principal == principal and a.operation is operation and a.resource is Resource.TOPIC
    }


def test_each_service_writes_what_it_produces_and_its_dead_letters_and_reads_only_what_it_consumes():
    assert may("expenses", Operation.WRITE) == {
        "im.expense-events",
        "im.payment-attempts.outcomes",
        "im.payment-attempts.dlq",
        "im.expense-actions.dlq",
    }
    assert may("expenses", Operation.READ) == {"im.payment-attempts", "im.expense-actions"}
    assert may("notification", Operation.READ) == {"msp.approvals", "msp.staff-actions"}
    assert "msp.approvals" not in may("workitems", Operation.READ), (
        "mobiles and behaviours stay with notification"
    )
    assert may("workitems", Operation.WRITE) == {
        "workitems.events",
        "im.expense-events.dlq",
        "msp.notification-events.dlq",
        "workitems.commands.dlq",
    }


def test_an_upstream_principal_may_write_only_its_topic_and_read_only_its_own_dead_letters_and_outcomes():
    """Issue 41: each upstream principal may read an outcome channel for its own events, and nobody else's."""
    assert may("payments-system", Operation.WRITE) == {"im.payment-attempts"}
    assert may("msp-approvals", Operation.WRITE) == {"msp.approvals"}
    assert may("payments-system", Operation.READ) == {
        "im.payment-attempts.dlq",
        "im.payment-attempts.outcomes",
    }
    assert may("msp-approvals", Operation.READ) == {"msp.approvals.dlq", "msp.approvals.outcomes"}
    readers = {
        (a.principal, a.name)
        for a in acls(CATALOGUE)
        if a.operation is Operation.READ and a.name.endswith(".outcomes")
    }
    assert readers == {
        ("payments-system", "im.payment-attempts.outcomes"),
        ("msp-approvals", "msp.approvals.outcomes"),
        ("payments-system", "payments-system.outcomes"),
        ("msp-approvals", "msp-approvals.outcomes"),
    }, (
        "an outcome is read by the system whose record it answers, with its own group, and by no one else"
    )
    assert upstream(CATALOGUE) == {"payments-system", "msp-approvals"}
    assert {
        (a.principal, a.name, a.operation)
        for a in acls(CATALOGUE, "prod.")
        if a.principal in upstream(CATALOGUE) and a.resource is Resource.GROUP
    } == {
        ("payments-system", "prod.payments-system.dead-letters", Operation.READ),
        ("msp-approvals", "prod.msp-approvals.dead-letters", Operation.READ),
        ("payments-system", "prod.payments-system.outcomes", Operation.READ),
        ("msp-approvals", "prod.msp-approvals.outcomes", Operation.READ),
    }, (
        "a group of its own for its dead letters (librdkafka needs one) and one for its outcomes, and none other"
    )


def test_only_the_officers_front_door_writes_the_staff_action_topics():
    """Besides the dead-letter replayer, which may only re-send a record the console wrote (servicekit.tools.dlq)."""
    writers = {
        t: {a.principal for a in acls(CATALOGUE) if a.name == t and a.operation is Operation.WRITE}
        for t in ("msp.staff-actions", "im.expense-actions", "workitems.commands")
    }
    assert writers == {t: {"console", DLQ_REPLAYER} for t in writers}


def test_the_dead_letter_replayer_may_use_exactly_the_consumed_topics_and_their_dead_letters_and_no_group():
    consumed = {t.name for t in CATALOGUE.topics if t.consumers}
    mine = [a for a in acls(CATALOGUE) if a.principal == DLQ_REPLAYER]
    expected = consumed | {f"{t}.dlq" for t in consumed}
    assert {a.name for a in mine if a.operation is Operation.WRITE} == expected
    assert {a.name for a in mine if a.operation is Operation.READ} == expected
    assert all(a.resource is Resource.TOPIC for a in mine), "it joins no consumer group"
    assert DLQ_REPLAYER in principals(CATALOGUE), "it is given a SCRAM user like every principal"


def test_each_consumer_uses_only_its_own_group_with_the_deployments_prefix():
    groups = {
        (a.principal, a.name)
        for a in acls(CATALOGUE, "prod.")
        if a.resource is Resource.GROUP and a.operation is not Operation.DESCRIBE
    }
    assert {g for g in groups if g[0] in ("expenses", "notification", "workitems")} == {
        ("expenses", "prod.expenses"),
        ("notification", "prod.notification"),
        ("workitems", "prod.workitems"),
    }
    assert all(
        name
        in ("prod." + principal, f"prod.{principal}.dead-letters", f"prod.{principal}.outcomes")
        for principal, name in groups
    ), "its own, or an upstream system's for its dead letters or its outcomes"


def test_a_consumer_added_to_the_catalogue_changes_the_acls_with_no_other_edit():
    audited = dataclasses.replace(
        PAYMENT_ATTEMPTS, consumers=(*PAYMENT_ATTEMPTS.consumers, "audit")
    )
    catalogue = Catalogue(tuple(audited if t is PAYMENT_ATTEMPTS else t for t in CATALOGUE.topics))
    added = set(acls(catalogue)) - set(acls(CATALOGUE))
    assert added == {
        Acl("audit", Resource.TOPIC, "im.payment-attempts", Operation.READ),
        Acl("audit", Resource.TOPIC, "im.payment-attempts", Operation.DESCRIBE),
        Acl("audit", Resource.TOPIC, "im.payment-attempts.dlq", Operation.WRITE),
        Acl("audit", Resource.TOPIC, "im.payment-attempts.dlq", Operation.DESCRIBE),
        Acl("audit", Resource.GROUP, "audit", Operation.READ),
        Acl("payments-system", Resource.GROUP, "audit", Operation.DESCRIBE),
    }
    assert "audit" in principals(catalogue)


def test_a_producer_may_describe_only_the_group_of_a_downstream_system_reading_its_topic():
    """Issue 29: SMS requests the gateway does not read must be alerted on, and only notification, which writes
    them, can tell: it may describe the gateway's group (its offsets). Likewise the console, for the team notices
    the gateway reads (issue 40), and workitems and the operations team's reader of its events; no one may
    describe any other group."""
    assert downstream(CATALOGUE) == {"desktop-messaging-gateway", "operations"}
    described = {
        (a.principal, a.name)
        for a in acls(CATALOGUE, "prod.")
        if a.resource is Resource.GROUP and a.operation is Operation.DESCRIBE
    }
    assert described == {
        ("notification", "prod.desktop-messaging-gateway"),
        ("console", "prod.desktop-messaging-gateway"),
        ("workitems", "prod.operations"),
    }


def test_nothing_is_granted_that_no_topic_of_the_catalogue_implies():
    names = {t.name for t in CATALOGUE.topics} | {t.dlq for t in CATALOGUE.topics if t.consumers}
    assert {a.name for a in acls(CATALOGUE) if a.resource is Resource.TOPIC} <= names
    assert {a.operation for a in acls(CATALOGUE)} == {
        Operation.READ,
        Operation.WRITE,
        Operation.DESCRIBE,
        Operation.DESCRIBE_CONFIGS,
    }


def test_each_service_may_read_the_retention_of_the_topics_it_reads_and_no_other():
    """Issue 39: a service refuses to start on a topic kept for less than the restore window, so it reads its
    topics' configuration; systems downstream of ours do not."""
    reading = {
        (a.principal, a.name) for a in acls(CATALOGUE) if a.operation is Operation.DESCRIBE_CONFIGS
    }
    consumed = {
        (c, t.name) for t in CATALOGUE.topics for c in t.consumers if c not in downstream(CATALOGUE)
    }
    assert reading == consumed
    assert {p for p, _ in reading} >= {"expenses", "notification", "workitems"}
    assert not {p for p, _ in reading} & downstream(CATALOGUE)
