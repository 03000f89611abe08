"""Synthetic MSPs and staff actions (no real people)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from contracts.notification import (
    Agency,
    AttachMspLetter,
    AuthoriseMspSms,
    Behaviour,
    Channel,
    ContactDetails,
    DeclineMspSms,
    DescribeMspBehaviours,
    Explained,
    MspApproved,
    RecordIncident,
    RecordLetterDispatch,
    RecordMspResult,
    RecordPhoneContact,
    RecordRiskFact,
    Representative,
    RiskFact,
    Role,
    SmsCircumstance,
    WithdrawMspIncident,
)

T0 = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
MOBILE = "0491 570 006"
WORKER = ["msp-officer"]
"""The roles of the MSP officer who records the steps (the console writes them from the verified token)."""
NOMINEE_NAME = "Alex Example-Nominee"
BEHAVIOUR = Behaviour(
    what="Shouted threats at counter staff and threw a chair in the service centre.",
    occurred_on=date(2027, 2, 12),
    channel=Channel.IN_PERSON,
)
EVERYTHING = Explained(
    reasons_and_behaviours=True,
    duration_and_service_access=True,
    contact_details=True,
    letter_to_follow=True,
)


def env(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "occurred_at": T0,
        "correlation_id": uuid.uuid4(),
        "producer": "staff-ui",
        "msp_id": "MSP-1",
        **fields,
    }


def approval(
    agency: Agency = Agency.CENTRELINK,
    *,
    phone_ok: bool = True,
    reps: tuple[Role, ...] = (),
    mobile: str | None = MOBILE,
    behaviours: list[Behaviour] | None = None,
    reasons: str | None = None,
    msp_id: str = "MSP-1",
) -> MspApproved:
    return MspApproved(
        **env(
            event_type="MspApproved",
            producer="msp-approvals",
            msp_id=msp_id,
            customer_ref="CRN-SYNTH-9",
            agency=agency,
            approving_officer_id="OFF-1",
            behaviours=behaviours or [BEHAVIOUR],
            reasons=reasons or "Repeated threats to staff safety during visits.",
            starts_on=date(2027, 3, 1),
            ends_on=date(2027, 8, 31),
            duration_reasons="Six months, matching the pattern of incidents.",
            service_access="By phone with the One Main Contact only.",
            channel_restrictions=["no face to face"],
            contact=ContactDetails(kind="PSSO", name="Pat Officer-Example", phone="1800 555 010"),
            customer_mobile=mobile,
            representatives=[
                Representative(role=r, name=NOMINEE_NAME, phone="0491 570 110") for r in reps
            ],
            phone_customer_appropriate=phone_ok,
        )
    )


def phone(
    outcome: str = "successful",
    contacted: Role = Role.CUSTOMER,
    explained: Explained | None = EVERYTHING,
    aggression: bool = False,
    msp_id: str = "MSP-1",
    no_more_attempts: bool = False,
) -> RecordPhoneContact:
    return RecordPhoneContact(
        **env(
            event_type="RecordPhoneContact",
            msp_id=msp_id,
            officer_id="OFF-2",
            officer_roles=WORKER,
            contacted=contacted,
            outcome=outcome,
            explained=explained,
            aggression_displayed=aggression,
            no_more_attempts=no_more_attempts,
        )
    )


def authorise(
    circumstance: SmsCircumstance = SmsCircumstance.CANNOT_BE_CONTACTED,
    *,
    adm: bool = True,
    smem: bool = True,
    mobile_checked: bool = True,
    send_at: datetime | None = None,
    msp_id: str = "MSP-1",
    on_multiple_records: bool = False,
) -> AuthoriseMspSms:
    return AuthoriseMspSms(
        **env(
            event_type="AuthoriseMspSms",
            msp_id=msp_id,
            officer_id="ADM-3",
            officer_roles=["msp-approved-decision-maker"] if adm else ["msp-officer"],
            circumstance=circumstance,
            smem_checked=smem,
            mobile_checked=mobile_checked,
            mobile_on_multiple_records=on_multiple_records,
            send_at=send_at,
        )
    )


def decline() -> DeclineMspSms:
    return DeclineMspSms(
        **env(
            event_type="DeclineMspSms",
            officer_id="ADM-3",
            officer_roles=["msp-approved-decision-maker"],
        )
    )


def risk(fact: RiskFact, msp_id: str = "MSP-1") -> RecordRiskFact:
    return RecordRiskFact(
        **env(
            event_type="RecordRiskFact",
            msp_id=msp_id,
            officer_id="OFF-2",
            officer_roles=WORKER,
            fact=fact,
        )
    )


def withdraw(
    number: int = 1, *, adm: bool = True, reason: str = "The same call was recorded twice."
) -> WithdrawMspIncident:
    return WithdrawMspIncident(
        **env(
            event_type="WithdrawMspIncident",
            officer_id="OFF-3",
            officer_roles=["msp-approved-decision-maker"] if adm else WORKER,
            number=number,
            withdrawal_reason=reason,
        )
    )


def incident(linked: bool = True, incident_id: str = "CIMS-77", **extra: Any) -> RecordIncident:
    return RecordIncident(
        **env(
            event_type="RecordIncident",
            officer_id="OFF-2",
            officer_roles=WORKER,
            incident_id=incident_id,
            linked_to_msp=linked,
            **extra,
        )
    )


def letter(msp_id: str = "MSP-1", letter_id: str = "L-1", **flags: bool) -> AttachMspLetter:
    fields = {
        "final": True,
        "signed": True,
        "approved": True,
        "includes_contact_card": True,
        **flags,
    }
    return AttachMspLetter(
        **env(
            event_type="AttachMspLetter",
            msp_id=msp_id,
            officer_id="OFF-2",
            officer_roles=WORKER,
            letter_id=letter_id,
            **fields,
        )
    )


POLICE_NOTE = (
    "Sgt Example of the local station delivered the letter to the customer's home on 3 March."
)


def dispatch(
    method: str = "post", noted: bool = False, msp_id: str = "MSP-1"
) -> RecordLetterDispatch:
    return RecordLetterDispatch(
        **env(
            event_type="RecordLetterDispatch",
            msp_id=msp_id,
            officer_id="OFF-2",
            officer_roles=WORKER,
            method=method,
            msp_note=POLICE_NOTE if noted else None,
        )
    )


def result(msp_id: str = "MSP-1") -> RecordMspResult:
    return RecordMspResult(
        **env(event_type="RecordMspResult", msp_id=msp_id, officer_id="OFF-2", officer_roles=WORKER)
    )


def describe(
    *behaviours: Behaviour, reasons: str | None = None, msp_id: str = "MSP-1"
) -> DescribeMspBehaviours:
    return DescribeMspBehaviours(
        **env(
            event_type="DescribeMspBehaviours",
            msp_id=msp_id,
            officer_id="OFF-1",
            officer_roles=["msp-officer"],
            behaviours=list(behaviours or [BEHAVIOUR]),
            reasons=reasons,
        )
    )


def at_limit(sentence: str, limit: int = 2000) -> str:
    """``sentence`` repeated to exactly ``limit`` characters: a field at its contract's bound."""
    return (sentence * (limit // len(sentence) + 1))[:limit]


def maximal_approval(msp_id: str = "MSP-MAX") -> MspApproved:
    """An approval with every field at its contract's bound (issue 37, finding 4): the longest texts, the most
    behaviours, restrictions and representatives, the longest names and ids."""
    told = "The customer phoned the service centre and threatened to hurt the counter staff. "
    return MspApproved(
        **env(
            event_type="MspApproved",
            producer="msp-approvals",
            msp_id=msp_id.ljust(64, "9"),
            customer_ref="CRN-SYNTH-".ljust(32, "7"),
            agency=Agency.CENTRELINK,
            approving_officer_id="OFF-".ljust(64, "1"),
            behaviours=[
                Behaviour(what=at_limit(told), occurred_on=date(2027, 2, n), channel=Channel.PHONE)
                for n in range(1, 21)
            ],
            reasons=at_limit("Repeated threats to staff safety during visits and calls. "),
            starts_on=date(2027, 3, 1),
            ends_on=date(2027, 8, 31),
            duration_reasons=at_limit("Six months, matching the pattern of incidents. "),
            service_access=at_limit("By phone with the One Main Contact only. "),
            channel_restrictions=[
                at_limit(f"No face to face contact at site {n}. ") for n in range(20)
            ],
            contact=ContactDetails(
                kind="PSSO",
                name="Pat Officer-Example".ljust(120, "x"),
                phone="1800 555 010",
                urgent_query_voicemail="1800 555 011",
            ),
            customer_mobile=MOBILE,
            representatives=[
                Representative(
                    role=Role.NOMINEE, name=NOMINEE_NAME.ljust(120, "y"), phone="0491 570 110"
                )
                for _ in range(10)
            ],
            phone_customer_appropriate=True,
        )
    )
