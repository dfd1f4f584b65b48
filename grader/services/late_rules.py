"""An assignment's late rules, read from and written to its columns.

Stored in two columns so that `late_policy` keeps meaning what it always did: `reject` refuses
uploads after the last window; `late_credit` holds the windows ('2d=80,7d=50'), and NULL there
means late work is not penalised (the `full` rule, the only one without a value to store).
"""

from __future__ import annotations

from grader.db.models import Assignment, LatePolicy
from grader.services.errors import Rejected
from grader.services.late_credit import NO_WINDOWS, LateAfter, LateCreditError, LateRules, late_rules, parse_windows


def after_of(late_policy: str, late_credit: str | None) -> LateAfter:
    if late_policy == LatePolicy.reject:
        return LateAfter.reject
    return LateAfter.full if late_credit is None else LateAfter.zero


def rules_of(assignment: Assignment) -> LateRules:
    return LateRules(parse_windows(assignment.late_credit or ""), after_of(assignment.late_policy,
                                                                           assignment.late_credit))


def checked_rules(windows: str, after: str | None) -> LateRules:
    """The rules from their written form, or Rejected (422) saying why they cannot be used. Without
    `after`, late work after windows earns nothing, and without windows it is not penalised."""
    if after is None:
        after = LateAfter.full if windows.strip().lower() in NO_WINDOWS else LateAfter.zero
    try:
        return late_rules(windows, after)
    except LateCreditError as exc:
        raise Rejected(422, str(exc)) from None


def store_rules(assignment: Assignment, rules: LateRules) -> None:
    assignment.late_policy = LatePolicy.reject if rules.after == LateAfter.reject else LatePolicy.none
    assignment.late_credit = None if rules.after == LateAfter.full else rules.text
