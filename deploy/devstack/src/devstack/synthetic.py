"""Synthetic load for the fault tests and the benchmark: numbered, valid upstream events (no real people)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from contracts.expenses import ExpenseKind, FailureReason, PaymentAttempted
from contracts.notification import Agency, Behaviour, Channel, ContactDetails, MspApproved


def failed_weekly_attempt(expense_id: str, customer_ref: str, at: datetime) -> PaymentAttempted:
    """A weekly expense's payment for the period starting on ``at``'s date fails: a retry window opens."""
    return PaymentAttempted(
        event_id=uuid.uuid4(),
        event_type="PaymentAttempted",
        occurred_at=at,
        correlation_id=uuid.uuid4(),
        producer="payments-system",
        expense_id=expense_id,
        customer_ref=customer_ref,
        payee_id="PAYEE-1",
        amount=Decimal("50.00"),
        kind=ExpenseKind.WEEKLY,
        scheduled_on=at.date(),
        attempted_at=at,
        outcome="failed",
        failure_reason=FailureReason.NOT_REPORTED,
    )


def medicare_approval(msp_id: str, customer_ref: str, at: datetime) -> MspApproved:
    """An MSP approved for a Medicare customer who may be phoned: planned, phone required, no SMS."""
    return MspApproved(
        event_id=uuid.uuid4(),
        event_type="MspApproved",
        occurred_at=at,
        correlation_id=uuid.uuid4(),
        producer="msp-approvals",
        msp_id=msp_id,
        customer_ref=customer_ref,
        agency=Agency.MEDICARE,
        approving_officer_id="OFF-1",
        behaviours=[
            Behaviour(
                what="Threatened staff at the counter on 2 February.",
                occurred_on=(at - timedelta(days=30)).date(),
                channel=Channel.IN_PERSON,
            )
        ],
        reasons="Threats to staff safety at the counter.",
        starts_on=at.date(),
        ends_on=(at + timedelta(days=180)).date(),
        duration_reasons="Six months.",
        service_access="Phone only.",
        contact=ContactDetails(kind="OMC", name="Officer Example", phone="1800 555 061"),
        phone_customer_appropriate=True,
    )
