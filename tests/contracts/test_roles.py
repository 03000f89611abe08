"""Which queues an officer's verified roles open (``contracts.roles``)."""

from __future__ import annotations

import pytest

from contracts.roles import OfficerRole, readable_queues
from contracts.workitems import Queue

pytestmark = pytest.mark.unit


@pytest.mark.rule("MSP-2.2")
def test_only_an_approved_decision_maker_reads_the_sms_decision_queue():
    """104-07050030 step 2: "SMS can only be sent by approved decision makers"."""
    assert Queue.MSP_APPROVED_DECISION_MAKERS in readable_queues(
        [OfficerRole.MSP_APPROVED_DECISION_MAKER]
    )
    assert Queue.MSP_APPROVED_DECISION_MAKERS not in readable_queues(
        [OfficerRole.MSP_OFFICER, OfficerRole.IM_TRAINED]
    )


@pytest.mark.rule("IM-1.2", "IM-1.3")
def test_only_an_officer_trained_in_income_management_reads_its_queue():
    """103-01050060 step 1: "For Service Officers trained in Income Management, go to Step 2." and "For
    Service Officers not trained in Income Management: [...] Cold transfer the customer"."""
    assert readable_queues([OfficerRole.IM_TRAINED]) == {Queue.INCOME_MANAGEMENT}
    assert Queue.INCOME_MANAGEMENT not in readable_queues([OfficerRole.MSP_APPROVED_DECISION_MAKER])


def test_no_role_or_an_unknown_one_opens_nothing():
    assert readable_queues([]) == frozenset()
    assert readable_queues(["administrator", "IM-TRAINED", "im-trained "]) == frozenset(), (
        "names match exactly"
    )
