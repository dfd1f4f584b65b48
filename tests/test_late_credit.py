"""Late credit rules, at their boundaries: parsing the written form, the credit of a lateness,
when uploads close, and how many grace days a late submission takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from grader.services.late_credit import (
    LateAfter,
    LateCreditError,
    LateRules,
    Window,
    format_lateness,
    grace_plan,
    late_by,
    late_rules,
    parse_windows,
)

DUE = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAYS_2 = timedelta(days=2)
DAYS_7 = timedelta(days=7)


@pytest.fixture
def rules() -> LateRules:
    """Up to 2 days late: 80 %, up to 7 days: 50 %, then 0."""
    return late_rules("2d=80,7d=50", "zero")


def test_windows_parse_with_days_hours_and_minutes() -> None:
    assert parse_windows("2d=80,7d=50") == (Window(DAYS_2, 80.0), Window(DAYS_7, 50.0))
    assert parse_windows(" 90m = 90 %, 36H=75") == (Window(timedelta(minutes=90), 90.0),
                                                    Window(timedelta(hours=36), 75.0))
    assert parse_windows("1d=62.5") == (Window(timedelta(days=1), 62.5),)
    assert parse_windows("") == () and parse_windows("none") == () and parse_windows(" None ") == ()


def test_the_longest_windows_fit_where_they_are_stored() -> None:
    longest = late_rules(",".join(f"{525589 + day}m=12.34567" for day in range(12)), "zero").text
    assert late_rules("365d=100", "zero").text == "365d=100" and len(longest) <= 200


def test_the_canonical_text_uses_the_largest_exact_unit() -> None:
    assert late_rules("48h=80, 10080m=50", "zero").text == "2d=80,7d=50"
    assert late_rules("90m=90, 1440m=80", "reject").text == "90m=90,1d=80"
    assert late_rules("", "full").text == ""


@pytest.mark.parametrize(("text", "message"), [
    ("2d80", "is not a window"),
    ("2d=80=3", "is not a window"),
    ("2x=80", "'2x' in '2x=80' is not a duration"),
    ("d=80", "is not a duration"),
    ("-1d=80", "is not a duration"),
    ("1.5d=80", "is not a duration"),
    ("0h=80", "must last longer than 0"),
    ("99999999999999999999d=80", "at most 365 days"),
    ("366d=80", "at most 365 days"),
    (",".join(f"{day}d=50" for day in range(1, 14)), "at most 12 windows"),
    ("2d=eighty", "is not a credit"),
    ("2d=101", "is not a credit"),
    ("2d=-5", "is not a credit"),
    ("7d=50,2d=80", "must be longer than the window before it (7d)"),
    ("2d=80,48h=70", "must be longer than the window before it (2d)"),
    ("2d=50,7d=80", "gives more credit than the shorter window before it (50 %)"),
    ("2d=80,,7d=50", "is not a window"),
])
def test_bad_windows_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(LateCreditError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_windows(text)


def test_windows_need_a_rule_for_after_the_last_one() -> None:
    with pytest.raises(LateCreditError, match="zero or reject"):
        late_rules("2d=80", "full")
    with pytest.raises(LateCreditError, match="one of full, zero, reject, not 'never'"):
        late_rules("2d=80", "never")


def test_credit_at_the_boundaries(rules: LateRules) -> None:
    assert rules.percent(timedelta(0)) == 100  # exactly at the due date: on time
    assert rules.percent(SECOND) == 80
    assert rules.percent(DAYS_2) == 80  # "up to 2 days" includes 2 days exactly
    assert rules.percent(DAYS_2 + SECOND) == 50
    assert rules.percent(DAYS_7) == 50
    assert rules.percent(DAYS_7 + SECOND) == 0


def test_what_happens_after_the_last_window() -> None:
    assert late_rules("", "full").percent(timedelta(days=100)) == 100
    assert late_rules("", "zero").percent(SECOND) == 0
    assert late_rules("1h=50", "reject").percent(timedelta(hours=1) + SECOND) == 0


def test_lateness_counts_from_the_due_date() -> None:
    assert late_by(DUE, DUE) == timedelta(0)
    assert late_by(DUE - SECOND, DUE) == timedelta(0)
    assert late_by(DUE + timedelta(hours=3), DUE) == timedelta(hours=3)
    assert late_by(DUE + timedelta(days=30), None) == timedelta(0)


def test_uploads_close_after_the_last_window_only_when_late_work_is_rejected(rules: LateRules) -> None:
    assert rules.closes_at(DUE) is None
    strict = late_rules("2d=80,7d=50", "reject")
    assert strict.closes_at(DUE) == DUE + DAYS_7
    assert strict.closes_at(DUE, grace_days=2) == DUE + timedelta(days=9)
    assert late_rules("", "reject").closes_at(DUE) == DUE
    assert strict.closes_at(None) is None


def test_uploads_close_at_the_end_of_the_calendar_at_the_latest() -> None:
    """A due date stored too near year 9999 to add the windows and grace days to: no OverflowError."""
    end = datetime.max.replace(tzinfo=UTC)
    assert late_rules("7d=50", "reject").closes_at(datetime(9999, 12, 31, tzinfo=UTC), grace_days=365) == end
    assert late_rules("", "reject").closes_at(end) == end


def test_grace_days_take_the_fewest_days_for_the_best_credit(rules: LateRules) -> None:
    assert grace_plan(rules, timedelta(0), 3) == (0, 100)
    assert grace_plan(rules, timedelta(hours=1), 3) == (1, 100)  # a day started is a whole day
    assert grace_plan(rules, DAYS_2, 3) == (2, 100)
    assert grace_plan(rules, DAYS_2, 1) == (0, 80)  # 1 day late would still be 80 %: the day is kept
    assert grace_plan(rules, timedelta(days=2, hours=12), 1) == (1, 80)  # 1d12h late: back into 2d=80
    assert grace_plan(rules, timedelta(days=2, hours=12), 0) == (0, 50)
    assert grace_plan(rules, timedelta(days=5), 2) == (0, 50)  # 3 days late is still 50 %: keep the days
    assert grace_plan(rules, timedelta(days=8), 1) == (1, 50)
    assert grace_plan(rules, timedelta(days=20), 5) == (0, 0)  # 15 days late earns nothing either way


def test_grace_days_are_not_needed_where_late_work_is_not_penalised() -> None:
    assert grace_plan(late_rules("", "full"), timedelta(days=3), 5) == (0, 100)


def test_rules_describe_themselves(rules: LateRules) -> None:
    assert rules.describe() == "up to 2d late: 80 %, up to 7d late: 50 %, then 0 %"
    assert late_rules("", "reject").describe() == "late: uploads refused"
    assert LateRules((), LateAfter.full).describe() == "late: full credit"


def test_lateness_reads_as_days_hours_and_minutes() -> None:
    assert format_lateness(timedelta(0)) == ""
    assert format_lateness(timedelta(seconds=40)) == "40s"
    assert format_lateness(timedelta(days=2, hours=3, minutes=5, seconds=9)) == "2d 3h 5m"
    assert format_lateness(timedelta(hours=1)) == "1h"
