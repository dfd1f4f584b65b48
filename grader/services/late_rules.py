"""An assignment's late rules and counting rule, read from and written to its columns.

Stored in two columns so that `late_policy` keeps meaning what it always did: `reject` refuses
uploads after the last window; `late_credit` holds the windows ('2d=80,7d=50'), and NULL there
means late work is not penalised (the `full` rule, the only one without a value to store).
"""

from __future__ import annotations

from grader.db.models import Assignment, CountingRule, LatePolicy
from grader.services.errors import Rejected
from grader.services.late_credit import NO_WINDOWS, LateAfter, LateCreditError, LateRules, late_rules, parse_windows

NO_PENALTY = LateRules((), LateAfter.full)


def after_of(late_policy: str, late_credit: str | None) -> LateAfter:
    if late_policy == LatePolicy.reject:
        return LateAfter.reject
    return LateAfter.full if late_credit is None else LateAfter.zero


def rules_of(assignment: Assignment) -> LateRules:
    return LateRules(parse_windows(assignment.late_credit or ""), after_of(assignment.late_policy,
                                                                           assignment.late_credit))


def checked_rules(windows: str, after: str) -> LateRules:
    try:
        return late_rules(windows, after)
    except LateCreditError as exc:
        raise Rejected(422, str(exc)) from None


def checked_counts(counts: str) -> CountingRule:
    if counts not in CountingRule.__members__:
        raise Rejected(422, f"which submission counts: one of {', '.join(CountingRule)}, not {counts!r}")
    return CountingRule(counts)


def store_rules(assignment: Assignment, rules: LateRules) -> None:
    assignment.late_policy = LatePolicy.reject if rules.after == LateAfter.reject else LatePolicy.none
    assignment.late_credit = None if rules.after == LateAfter.full else rules.text


def edited_rules(current: LateRules, windows: str | None, after: str | None) -> LateRules:
    """`current` with what was given changed (None: unchanged). Windows given where late work was
    not penalised end in zero credit unless `after` says otherwise."""
    text = current.text if windows is None else windows
    if after is None:
        after = current.after
        if after == LateAfter.full and text.strip().lower() not in NO_WINDOWS:
            after = LateAfter.zero
    return checked_rules(text, after)
