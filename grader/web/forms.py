"""Reading the pages' form fields: every field arrives as text, and a blank one means "none".

Each parser raises Rejected (422) naming the field, which the page shows next to its form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from grader.db.models import CountingRule
from grader.services.courses import in_utc
from grader.services.errors import Rejected
from grader.services.late_credit import LateAfter
from grader.web.deps import Text


def utc_time(text: str, label: str) -> datetime | None:
    """A datetime-local field's value, read as UTC (the pages say so), or the moment a value with an
    offset names (a scripted post); blank -> None."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Rejected(422, f"{label}: {text!r} is not a date and time") from None
    try:
        return in_utc(moment)
    except ValueError as exc:
        raise Rejected(422, f"{label}: {text!r} {exc}") from None


def whole_number(text: str, label: str) -> int | None:
    """A number field's value; blank -> None."""
    if not text.strip():
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise Rejected(422, f"{label}: {text!r} is not a whole number") from None


CONFIRMED = "yes"  # the value of a destructive form's "yes, ..." checkbox, named "confirm"


def require_confirmed(confirm: str, refusal: str) -> None:
    """A button that destroys what cannot be restored acts only with its "yes" box ticked: a
    confirmation that needs no script. Rejected (422) with `refusal` otherwise."""
    if confirm != CONFIRMED:
        raise Rejected(422, refusal)


def datetime_local(moment: datetime | None) -> str:
    """A stored time as a datetime-local field shows it (UTC, to the minute); None -> blank."""
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


class LateRulesForm(BaseModel):
    """The late rules' fields, as sent by the settings form and the late page's: a blank rule after
    the windows is the default (zero after windows, full credit without)."""

    late_credit: Text = ""
    late_after: Literal["", "full", "zero", "reject"] = ""
    counts: CountingRule = CountingRule.last

    def late_settings(self) -> dict[str, Any]:
        """The AssignmentSettings fields these give."""
        return {"late_credit": self.late_credit, "late_after": LateAfter(self.late_after) if self.late_after else None,
                "counts": self.counts}
