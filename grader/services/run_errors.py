"""The one failure that stopped every check of a grading run (the submission did not import, say),
read from its stored test cases, so that a page says it once instead of under every question."""

from __future__ import annotations

import re
from collections.abc import Collection

from grader.db.models import GradingRun

COULD_NOT_RUN = "Could not run: see the error at the top."
# A case's message names the functions it is about in front ("conv1d_forward(): ..."), unless
# its own words already do: set aside, every case of an import failure says the same.
FUNCTIONS_NAMED = re.compile(r"^\w+\(\)(?:, \w+\(\))*: ")


def stopping_failure(run: GradingRun, question_ids: Collection[str] | None = None) -> str | None:
    """What every check failed with, when all the checks of more than one question failed with
    one message (the functions each names set aside): the submission failed as a whole. Only the
    checks of `question_ids` are read when given: what a student is shown of it must not turn on
    the checks of questions hidden from them."""
    tests = [t for t in run.tests if question_ids is None or t.question_id in question_ids]
    messages = {FUNCTIONS_NAMED.sub("", t.feedback, count=1) for t in tests}
    if any(t.status == "passed" for t in tests) or len(messages) != 1 or len({t.question_id for t in tests}) < 2:
        return None
    return messages.pop() or None
