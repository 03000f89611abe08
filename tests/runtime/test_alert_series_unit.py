"""What the alerts read exists when they need it (issue 41): a consumed-messages series from a service's start, so
a restart that reads nothing is seen; no lag series for a reader whose lag is its own concern."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from contracts.catalogue import CATALOGUE
from expenses.app import ExpensesSettings
from expenses.app import create_runtime as expenses_runtime
from servicekit.downstream import watched

pytestmark = pytest.mark.unit


def test_every_consumed_topic_has_its_series_from_the_start_at_zero():
    """PaymentAttemptsStopped could never fire after an expenses restart that read nothing: the counter's series
    was made at the first attempt."""
    runtime = expenses_runtime(ExpensesSettings(kafka_security_protocol="PLAINTEXT"))
    exposed = generate_latest(runtime.metrics.registry).decode()
    for topic in ("im.payment-attempts", "im.expense-actions"):
        for outcome in ("handled", "duplicate", "dead_lettered"):
            line = f'messages_consumed_total{{outcome="{outcome}",topic="{topic}"}} 0.0'
            assert line in exposed, line


def test_the_gateways_groups_are_watched_and_the_operations_reader_is_not():
    """downstream_lag{group="operations"} grew for ever under ./dev run, where nobody reads workitems.events; an SMS
    or a team notice unread is a customer or a team not told, so the gateway's groups are watched."""
    assert watched(CATALOGUE, "workitems", "p.") == []
    assert watched(CATALOGUE, "notification", "p.") == [
        ("p.msp.sms-dispatch", "p.desktop-messaging-gateway")
    ]
    assert watched(CATALOGUE, "console", "p.") == [
        ("p.workitems.team-notifications", "p.desktop-messaging-gateway")
    ]


def test_a_dead_letters_log_line_names_the_event_id_and_nothing_else_of_the_record():
    """Issue 41: "message dead-lettered" gave no key or event id. It gives the event id when the record's first
    bytes name one as a UUID; nothing else of the record (any other value could be personal data)."""
    from servicekit.consume.consumer import event_id_in

    event_id = "0d7c6e1a-0000-4000-8000-000000000041"
    assert event_id_in(f'{{"event_type": "X", "event_id": "{event_id}", "x": '.encode()) == event_id
    assert event_id_in(b'{"event_id": "Jane Citizen 0491 570 156"}') is None, (
        "not a UUID: not logged"
    )
    assert event_id_in(b"[" * 100_000) is None
    assert event_id_in(None) is None
