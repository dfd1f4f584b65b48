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
