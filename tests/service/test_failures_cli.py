"""The `grader` command ends in `error: ...` (exit 2), never a traceback, when it fails for a
reason the operator fixes: a setting out of its range, a database it cannot use, a migration
revision that does not exist, a number of seconds that is none; and `reconcile --loop`, the
beat's stand-in, outlives a database that is down for a round."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import Result
from typer.testing import CliRunner

from grader import cli_accounts
from grader.cli import app
from harness.servers import free_port
from tests.fixtures.services import Stack


def grader(*args: str) -> Result:
    """`grader ARGS` in this process, from the entry point, where these failures are reported."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {message}"), result.stderr


@pytest.mark.parametrize("variables, message", [
    ({"GRADER_WORKER_CONCURRENCY": "0"},
     "invalid setting GRADER_WORKER_CONCURRENCY: Input should be greater than or equal to 1"),
    ({"GRADER_ENVIRONMENT": "Production"},
     "invalid setting GRADER_ENVIRONMENT: Input should be 'development' or 'production'"),
    ({"GRADER_RUN_LEASE_S": "0", "GRADER_RECONCILE_SENDS": "-1"},
     "invalid setting GRADER_RUN_LEASE_S: Input should be greater than 0; "
     "invalid setting GRADER_RECONCILE_SENDS: Input should be greater than or equal to 1"),
    ({"GRADER_ENVIRONMENT": "production", "GRADER_SECRET_KEY": "not-so-secret"},
     "GRADER_SECRET_KEY must be set to a random value of 32+ characters in production"),
])
def test_a_setting_out_of_its_range_is_named(
    sqlite_stack: Stack, use_stack: Callable[[Stack], None], variables: dict[str, str], message: str
) -> None:
    use_stack(sqlite_stack.with_env(**variables))
    done = grader("courses", "list")
    refused(done, message)
    assert done.stderr == f"error: {message}\n"  # and no value: one may be a secret


@pytest.mark.parametrize("command", [["scores", "hw2"], ["db", "upgrade"]])
def test_a_database_that_cannot_be_reached_is_named_without_its_password(
    sqlite_stack: Stack, use_stack: Callable[[Stack], None], command: list[str]
) -> None:
    port = free_port()  # nothing listens there
    use_stack(sqlite_stack.with_env(GRADER_DATABASE_URL=f"postgresql+psycopg://grader:hunter2@127.0.0.1:{port}/db"))
    done = grader(*command)
    refused(done, f"cannot use the database postgresql+psycopg://grader:***@127.0.0.1:{port}/db: ")
    assert "Connection refused" in done.stderr and "hunter2" not in done.output


@pytest.mark.parametrize("direction", ["upgrade", "downgrade"])
def test_a_migration_to_a_revision_that_does_not_exist_is_refused(
    sqlite_stack: Stack, use_stack: Callable[[Stack], None], direction: str
) -> None:
    use_stack(sqlite_stack)
    refused(grader("db", direction, "0099"), "cannot migrate the database: Can't locate revision identified by '0099'")


@pytest.mark.parametrize("seconds", ["nan", "inf", "-1", "1e300"])
def test_reconcile_takes_a_number_of_seconds(
    sqlite_stack: Stack, use_stack: Callable[[Stack], None], seconds: str
) -> None:
    use_stack(sqlite_stack)
    refused(grader("reconcile", "--older-than", seconds),
            f"--older-than must be from 0 to 3,153,600,000 seconds (a century), not {float(seconds):g}")


def test_reconcile_loop_reports_a_database_error_and_tries_again(
    sqlite_stack: Stack, use_stack: Callable[[Stack], None], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    """The beat it stands in for runs the next round whatever the last one met."""
    use_stack(sqlite_stack.with_env(GRADER_DATABASE_URL=f"sqlite:///{tmp_path}"))  # a folder: no database
    pauses: list[float] = []

    def between_rounds(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            raise SystemExit(7)  # the operator's Ctrl-C, after the second round
        use_stack(sqlite_stack)  # the database is back

    monkeypatch.setattr(cli_accounts, "time", SimpleNamespace(sleep=between_rounds))
    done = grader("reconcile", "--loop")
    assert done.exit_code == 7, done.output
    assert done.stdout == "re-enqueued 0 submission(s)\nre-enqueued 0 similarity run(s)\n"  # the second round's
    [error] = [record for record in caplog.records if record.levelname == "ERROR"]
    assert "unable to open database file" in error.getMessage() + str(error.exc_info)
