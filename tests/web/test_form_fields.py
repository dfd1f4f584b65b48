"""The pages' date fields: a datetime-local value is read as UTC, as the pages say, and a value that
names its own offset (a scripted form post) keeps the moment it names instead of losing the offset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from grader.services.errors import Rejected
from grader.web.forms import utc_time


@pytest.mark.parametrize(("text", "moment"), [
    ("2026-03-01T23:59", datetime(2026, 3, 1, 23, 59, tzinfo=UTC)),
    ("2026-03-01T23:59+05:00", datetime(2026, 3, 1, 18, 59, tzinfo=UTC)),
    ("2026-03-01T23:59Z", datetime(2026, 3, 1, 23, 59, tzinfo=UTC)),
    ("  ", None),
])
def test_a_date_field_names_the_moment_it_was_given(text: str, moment: datetime | None) -> None:
    read = utc_time(text, "Due")
    assert read == moment and (read is None or read.tzinfo == UTC)


def test_a_date_field_that_is_no_date_is_refused_by_name() -> None:
    with pytest.raises(Rejected) as refused:
        utc_time("next friday", "Due")
    assert refused.value.status_code == 422 and "Due: 'next friday' is not a date and time" in refused.value.message


@pytest.mark.parametrize("text", ["0001-01-01T00:00+14:00", "9999-12-31T23:59-14:00"])
def test_a_date_field_with_no_utc_equivalent_is_refused_by_name(text: str) -> None:
    """Year 1 at +14:00 is still year 0 in UTC, and year 9999 at -14:00 already year 10000."""
    with pytest.raises(Rejected) as refused:
        utc_time(text, "Due")
    assert refused.value.status_code == 422 and f"Due: {text!r} has no UTC equivalent" in refused.value.message
