"""Settings: laptop defaults need nothing; production refuses the placeholders."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from grader.config import Settings


def test_defaults_need_no_server(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'grader.db'}"
    assert settings.resolved_broker_url.startswith("sqla+sqlite:///")


def test_environment_variables_override(monkeypatch):
    monkeypatch.setenv("GRADER_DATABASE_URL", "postgresql+psycopg://db/grader")
    monkeypatch.setenv("GRADER_MAX_UPLOAD_BYTES", "123")
    settings = Settings()
    assert settings.resolved_database_url == "postgresql+psycopg://db/grader" and settings.max_upload_bytes == 123


@pytest.mark.parametrize("overrides, message", [
    ({}, "GRADER_SECRET_KEY must be set"),
    ({"secret_key": "x" * 40}, "GRADER_REQUIRE_ISOLATION must be true"),
])
def test_production_refuses_the_laptop_defaults(overrides, message):
    with pytest.raises(ValidationError, match=message):
        Settings(environment="production", **overrides)
    Settings(environment="production", secret_key="x" * 40, require_isolation=True)


def test_a_worker_grades_with_one_process_more_than_its_cores(monkeypatch):
    """The spare process keeps every core busy while another's student code waits out a time limit."""
    monkeypatch.delenv("GRADER_WORKER_CONCURRENCY", raising=False)
    assert Settings().resolved_worker_concurrency == len(os.sched_getaffinity(0)) + 1
    monkeypatch.setenv("GRADER_WORKER_CONCURRENCY", "5")
    assert Settings().resolved_worker_concurrency == 5
    with pytest.raises(ValidationError):
        Settings(worker_concurrency=0)


@pytest.mark.parametrize("value", ["Production", "prod", "PRODUCTION", "dev", "staging"])
def test_an_environment_other_than_the_two_is_refused(monkeypatch, value):
    """A misspelt "production" used to run the development mode: the public secret, no isolation."""
    monkeypatch.setenv("GRADER_ENVIRONMENT", value)
    with pytest.raises(ValidationError, match="environment\n  Input should be 'development' or 'production'"):
        Settings()


def test_the_environment_is_development_or_production(monkeypatch):
    assert not Settings(environment="development").production
    assert Settings(environment="production", secret_key="x" * 40, require_isolation=True).production


# Each setting that breaks the service at zero or below (a zero lease spins the heartbeat thread, zero
# attempts fail every grade, a negative uid makes the uid switch a no-op), with its least valid value.
LEAST_VALID = {
    "sandbox_uid": 0, "sandbox_gid": 0, "sandbox_threads": 1, "sandbox_scratch_mb": 1, "sandbox_scratch_files": 1,
    "max_upload_bytes": 1, "run_lease_s": 0.1, "grading_attempts": 1, "grading_give_backs": 1,
    "hard_limit_grace_s": 0.1, "reconcile_after_s": 0.1, "reconcile_interval_s": 0.1, "reconcile_sends": 1,
}
INVALID = [(name, bad) for name, least in LEAST_VALID.items()
           for bad in ((-1,) if name in ("sandbox_uid", "sandbox_gid") else (0, -1))]


@pytest.mark.parametrize("name, value", INVALID)
def test_a_setting_out_of_its_range_is_refused(monkeypatch, name, value):
    monkeypatch.setenv(f"GRADER_{name.upper()}", str(value))
    with pytest.raises(ValidationError, match=f"{name}\n  Input should be greater than"):
        Settings()


@pytest.mark.parametrize("name", [name for name in LEAST_VALID if name.endswith("_s")])
def test_a_duration_setting_is_finite(monkeypatch, name):
    """An infinite one would overflow the time arithmetic it is used in."""
    monkeypatch.setenv(f"GRADER_{name.upper()}", "inf")
    with pytest.raises(ValidationError, match=f"{name}\n  Input should be a finite number"):
        Settings()


@pytest.mark.parametrize("name, value", LEAST_VALID.items())
def test_the_least_value_of_a_bounded_setting_is_accepted(monkeypatch, name, value):
    monkeypatch.setenv(f"GRADER_{name.upper()}", str(value))
    assert getattr(Settings(), name) == value
