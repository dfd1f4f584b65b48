"""Failures that cross layers: raised where grading happens, sorted out by the services.

They live in the core so that the services (and the HTTP process with them) can tell a
student's mistake from the rubric's or the machine's without importing pytest, torch or the
sandbox.
"""


class StudentFault(Exception):
    """Raised in the trusted process when the student's code failed; the message is the feedback."""


class GradingAborted(RuntimeError):
    """The rubric itself failed (not the student): the run must not be recorded as a score."""


class SandboxUnavailable(ConnectionError):
    """Sandboxes can't work here as configured (no directory can be made for one, or the sandbox
    uid cannot use it): a fault of the machine, which the service retries like an unreachable
    database, never a score."""
