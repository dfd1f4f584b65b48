"""Creating an assignment from a rubric folder, and changing its settings later.

The settings an instructor chooses are one dataclass, `AssignmentSettings`, whose fields are the
Assignment columns of the same names, except the late rules (`late_credit` and `late_after`, kept
in two columns by grader.services.late_rules): a new setting is a field there, a column, and a
check in `_checked`; creating and editing pick it up without further code. Changed late rules or a
changed counting rule show in the credited scores at once: they are computed from the stored
runs, nothing is graded again. Nothing here commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import Assignment, CountingRule, Course, User
from grader.rubric_spec import RubricError
from grader.services.courses import check_time, clean_title, require_open
from grader.services.errors import Rejected
from grader.services.late_credit import LateAfter
from grader.services.late_rules import checked_rules, rules_of, store_rules
from grader.services.permissions import require_change_settings
from grader.services.rubrics import publish_from_disk

SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# A folder directly under the rubrics folder: never a path that leads out of it.
RUBRIC_ID = SLUG
MAX_SUBMISSIONS = 10_000
MAX_COOLDOWN_S = 7 * 24 * 3600


@dataclass(frozen=True)
class AssignmentSettings:
    """What an instructor sets on an assignment (see the module docstring to add one)."""

    title: str = ""  # on creation, blank: the rubric's title
    due_at: datetime | None = None
    max_submissions: int | None = None  # None: unlimited
    cooldown_s: int | None = None  # seconds between two uploads of one student; None: no wait
    release_at: datetime | None = None  # details of after_due_date questions; None: at the due date
    late_credit: str = ""  # credit windows such as 2d=80,7d=50; '' or 'none': none
    late_after: LateAfter | None = None  # full, zero or reject; None: zero after windows, full without
    counts: CountingRule = CountingRule.last  # which submission counts: last, best or chosen


LATE_RULES = ("late_credit", "late_after")
COLUMNS = tuple(field.name for field in fields(AssignmentSettings) if field.name not in LATE_RULES)


def settings_of(assignment: Assignment) -> AssignmentSettings:
    """The assignment's settings; late rules that do not penalise read as the default (None), so
    windows given alone later end in zero credit, as they would on a new assignment."""
    rules = rules_of(assignment)
    return AssignmentSettings(**{name: getattr(assignment, name) for name in COLUMNS}, late_credit=rules.text,
                              late_after=None if rules.after == LateAfter.full else rules.after)


def _checked(settings: AssignmentSettings) -> AssignmentSettings:
    """The settings as stored, or Rejected (422) naming the first bad one."""
    check_time("the due date", settings.due_at)
    check_time("the release time", settings.release_at)
    if settings.max_submissions is not None and not 1 <= settings.max_submissions <= MAX_SUBMISSIONS:
        raise Rejected(422, f"the submission limit is 1 to {MAX_SUBMISSIONS:,} (or none), "
                            f"not {settings.max_submissions}")
    if settings.cooldown_s is not None and not 0 <= settings.cooldown_s <= MAX_COOLDOWN_S:
        raise Rejected(422, f"the cooldown is 0 to {MAX_COOLDOWN_S:,} seconds (a week), not {settings.cooldown_s}")
    if settings.counts not in CountingRule.__members__:
        raise Rejected(422, f"which submission counts: one of {', '.join(CountingRule)}, not {settings.counts!r}")
    rules = checked_rules(settings.late_credit, settings.late_after)
    if settings.due_at is not None and settings.release_at is not None and settings.release_at < settings.due_at:
        raise Rejected(422, "details of after-due-date questions cannot be released before the due date")
    return replace(settings, title=clean_title(settings.title), cooldown_s=settings.cooldown_s or None,
                   late_credit=rules.text, late_after=rules.after, counts=CountingRule(settings.counts))


def _apply(assignment: Assignment, settings: AssignmentSettings) -> None:
    """Store checked settings (`_checked`: its late rules are valid)."""
    for name in COLUMNS:
        setattr(assignment, name, getattr(settings, name))
    store_rules(assignment, checked_rules(settings.late_credit, settings.late_after))


def create_assignment(
    db: Session, actor: User, course: Course, slug: str, rubric_id: str, settings: AssignmentSettings | None = None
) -> Assignment:
    """An assignment graded by the rubric folder `rubric_id`, which must load: the folder is stored as
    its first published version."""
    settings = settings or AssignmentSettings()
    require_change_settings(db, actor, course)
    require_open(course)
    if not SLUG.fullmatch(slug):
        raise Rejected(422, f"a slug is 1 to 100 letters, digits, '.', '_' or '-', not {slug!r}")
    if not RUBRIC_ID.fullmatch(rubric_id):
        raise Rejected(422, f"a rubric id is the name of a folder in the rubrics folder, not {rubric_id!r}")
    if db.scalar(select(Assignment).where(Assignment.course_id == course.id, Assignment.slug == slug)) is not None:
        raise Rejected(409, f"{course.code} already has an assignment {slug!r}")
    assignment = Assignment(course_id=course.id, slug=slug, rubric_id=rubric_id)
    try:
        rubric = publish_from_disk(db, assignment)  # stored as its first published version
    except RubricError as exc:
        raise Rejected(422, f"rubric {rubric_id!r} cannot be used: {exc}") from exc
    _apply(assignment, _checked(replace(settings, title=settings.title.strip() or rubric.title or slug)))
    db.add(assignment)
    db.flush()
    return assignment


def update_assignment(db: Session, actor: User, assignment: Assignment, settings: AssignmentSettings) -> None:
    """Replace the assignment's settings (a lower submission limit holds for later uploads only)."""
    require_change_settings(db, actor, assignment.course)
    require_open(assignment.course)
    _apply(assignment, _checked(settings))
    db.flush()
