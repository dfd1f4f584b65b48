"""Sorting out an exception raised while grading: retried (the machine's fault) or a failed run
with a reason (the rubric's, or a bug), never a score and never lost."""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import InterfaceError, OperationalError

from grader.errors import GradingAborted, SandboxUnavailable
from grader.rubric_spec import RubricError

log = logging.getLogger(__name__)

# The database or the broker is unreachable, or this machine cannot run sandboxes as configured:
# worth retrying the task, never the student's fault and never a score. (SandboxUnavailable is a
# ConnectionError too; it is named for the reader.)
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError, InterfaceError, BrokerError, SandboxUnavailable, ConnectionError,
)


def failure_of(exc: Exception) -> str:
    """The one place that sorts out an exception raised while grading.

    An infrastructure fault is raised again: the task is retried and nothing is recorded. Any
    other exception ends the attempt as a failed run, and what is returned is its reason, for
    the staff (the student is told to ask them, see `record_failure`).
    """
    if isinstance(exc, INFRASTRUCTURE_ERRORS):
        raise exc
    if isinstance(exc, (GradingAborted, RubricError)):
        return f"the rubric failed: {exc}"
    log.error("grading failed with an internal error", exc_info=exc)  # a bug in the grader
    return f"internal error: {type(exc).__name__}: {exc}"


def lasting_fault(exc: Exception, times: int) -> str:
    """The reason a request ends failed when a machine fault stopped it after the claim `times`
    times (each retried, spending no attempt): it would have been retried forever."""
    return (f"grading was stopped by a fault of the grading machine {times} times, the last: "
            f"{type(exc).__name__}: {exc}; fix the workers (their logs say more), then regrade the submission")
