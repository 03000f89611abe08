"""The store fake holds to PostgreSQL's answers (issue 38, "one store, faked faithfully"): the same saves, loads,
queries for the MSPs holding a mobile or a CIMS incident, and due SMS run against ``notification.store`` on the real
server and against :class:`tests.notification.fake_store.FakeStore`, and every answer is compared. The model test
runs the real shell over the fake; this is what keeps it from drifting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from contracts.notification import Role
from notification import store
from notification.domain.model import MspState, SmsState, SmsStatus
from tests.notification.builders import T0, approval
from tests.notification.fake_store import FakeStore
from tests.notification.test_decide import run
from tests.support.model import held_to_postgresql

pytestmark = pytest.mark.integration

MOBILE, OTHER_MOBILE = "+61491570156", "+61491570157"


def msp(msp_id: str, customer: str, mobile: str | None, **update: Any) -> MspState:
    state = run(None, approval(msp_id=msp_id, reps=(Role.NOMINEE,)))[1]
    assert state is not None
    case = state.case.model_copy(update={"customer_ref": customer, "customer_mobile": mobile})
    return state.model_copy(update={"case": case, **update})


def authorised(at_hours: int) -> SmsState:
    return SmsState(status=SmsStatus.AUTHORISED, send_at=T0 + timedelta(hours=at_hours))


def representative_with(state: MspState, phone: str) -> MspState:
    rep = state.case.representatives[0].model_copy(update={"phone": phone})
    return state.model_copy(
        update={"case": state.case.model_copy(update={"representatives": (rep,)})}
    )


FIRST = [
    (None, msp("MSP-1", "CRN-1", MOBILE, sms=authorised(1))),
    (None, representative_with(msp("MSP-2", "CRN-2", None), MOBILE)),
    (
        None,
        msp(
            "MSP-3",
            "CRN-3",
            OTHER_MOBILE,
            incidents_asked=2,
            incidents=("CIMS-1",),
            sms=authorised(2),
        ),
    ),
    (None, msp("MSP-4", "CRN-1", MOBILE)),
]
THEN = [
    (FIRST[0][1], FIRST[0][1].model_copy(update={"sms": SmsState(status=SmsStatus.SENT)})),
    (FIRST[2][1], FIRST[2][1].model_copy(update={"incidents": ("CIMS-1", "CIMS-2")})),
]


async def answers(s: Any, conn: Any) -> list[Any]:
    """What the shell asks a store."""
    due = await s.claim_due_sms(conn, T0 + timedelta(hours=3), 10)
    return [
        await s.load(conn, ["MSP-3", "MSP-1", "MSP-NONE", "MSP-1"]),
        await s.holding_mobiles(conn, [MOBILE]),
        await s.holding_mobiles(conn, [OTHER_MOBILE, "+61491570999"]),
        await s.holding_mobiles(conn, []),
        await s.holding_incidents(conn, ["CIMS-2", "CIMS-9"]),
        await s.holding_incidents(conn, ["CIMS-1"]),
        [(d.key, s.due_states(d)) for d in due],
        await s.oldest_due(conn, T0 + timedelta(hours=3)),
        await s.oldest_due(conn, T0),
    ]


async def test_the_fake_answers_as_postgresql_does(database_url):
    fake = FakeStore()
    await held_to_postgresql(
        database_url, "notification_contract", store.MIGRATIONS, store, fake, (FIRST, THEN), answers
    )
    holding = await fake.holding_mobiles(None, [MOBILE])
    assert sorted(holding) == ["MSP-1", "MSP-2", "MSP-4"], (
        "as a customer's mobile, and as a representative's number"
    )
    assert sorted(await fake.holding_incidents(None, ["CIMS-2"])) == ["MSP-3"]
