"""Settings precedence, as docs/operations.md's Configuration section says: the service's own prefix wins over the
unprefixed shared name, which sets the whole system at once."""

from __future__ import annotations

import pytest

from expenses.app import ExpensesSettings
from notification.app import NotificationSettings
from servicekit.settings import SHARED

pytestmark = pytest.mark.unit


def test_a_setting_given_with_the_services_prefix_wins_over_the_shared_name(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "shared:9093")
    monkeypatch.setenv("EXPENSES_KAFKA_BOOTSTRAP_SERVERS", "expenses-own:9093")
    monkeypatch.setenv("TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("EXPENSES_TOPIC_PARTITIONS", "3")
    expenses, notification = ExpensesSettings(), NotificationSettings()
    assert (expenses.kafka_bootstrap_servers, expenses.topic_partitions) == ("expenses-own:9093", 3)
    assert (notification.kafka_bootstrap_servers, notification.topic_partitions) == (
        "shared:9093",
        12,
    )


def test_every_shared_setting_is_read_under_both_names_and_a_keyword_still_sets_it(monkeypatch):
    for name in SHARED:
        field = ExpensesSettings.model_fields[name]
        assert field.validation_alias is not None
        assert field.validation_alias.choices == [f"EXPENSES_{name.upper()}", name.upper()]  # type: ignore[union-attr]
    monkeypatch.setenv("DATABASE_URL", "postgresql://shared/db")
    assert (
        ExpensesSettings(database_url="postgresql://given/db").database_url
        == "postgresql://given/db"
    )
    assert ExpensesSettings().database_url == "postgresql://shared/db"


def test_a_services_own_setting_is_read_only_with_its_prefix(monkeypatch):
    monkeypatch.setenv("MAX_BATCH", "7")
    monkeypatch.setenv("NOTIFICATION_MAX_BATCH", "9")
    assert ExpensesSettings().max_batch == 500, (
        "not a shared setting: the unprefixed name is not read"
    )
    assert NotificationSettings().max_batch == 9


def test_a_service_refuses_a_missing_short_or_published_pseudonym_key_outside_development(
    monkeypatch, tmp_path
):
    """Logged pseudonyms map back to customer references for anyone who knows the key."""
    for key in (None, "short", "development-only-pseudonym-key"):
        with pytest.raises(ValueError, match="LOG_PSEUDONYM_KEY"):
            ExpensesSettings(log_pseudonym_key=key).pseudonym_key()
    secret = "a-secret-of-this-deployment"
    assert ExpensesSettings(log_pseudonym_key=secret).pseudonym_key() == secret.encode()
    (tmp_path / "key").write_text(secret + "\n")
    assert (
        ExpensesSettings(log_pseudonym_key_file=tmp_path / "key").pseudonym_key() == secret.encode()
    ), "a mounted file"


def test_in_development_a_missing_key_is_a_random_one_per_process():
    first = ExpensesSettings(clock="simulated").pseudonym_key()
    assert len(first) >= 32
    assert ExpensesSettings(development=True).pseudonym_key() != first


def test_the_service_process_will_not_start_without_a_key():
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if "PSEUDONYM" not in k and k not in ("CLOCK", "DEVELOPMENT")
    }
    done = subprocess.run(
        [sys.executable, "-m", "expenses"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "not started: LOG_PSEUDONYM_KEY" in done.stderr
