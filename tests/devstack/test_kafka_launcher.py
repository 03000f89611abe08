"""The local Kafka launcher's pure parts."""

from __future__ import annotations

import base64

import pytest

from devstack.kafka import _cluster_id

pytestmark = pytest.mark.unit


def test_cluster_ids_never_start_with_a_dash_which_storage_tool_would_read_as_an_option():
    """A run failed with `StorageTool format -t -saHu...`: 1 id in 64 starts with '-'."""
    ids = [_cluster_id() for _ in range(3000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids), (
        "each is a base64url UUID"
    )
