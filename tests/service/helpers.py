"""Helpers for the service tests: a class with unique names, HW2 submissions, waiting on grading."""

from __future__ import annotations

import re
import shutil
import textwrap
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from grader.config import PROJECT_ROOT, get_settings
from grader.db.base import utcnow
from grader.db.models import Assignment, Course, GradingRun, RubricVersion, Submission, User
from grader.scoring import Answer, GradeReport, KnownMistake, TestOutcome, build_report
from grader.services import assignments, claims, courses, roster, submissions, users
from grader.services.answer_groups import GroupKey
from grader.services.reconcile import reconcile
from grader.services.rubrics import on_disk
from tests.fixtures.services import wait_until

REFERENCE = (PROJECT_ROOT / "rubrics" / "hw2" / "reference.py").read_bytes()
FINISHED = ("graded", "failed")


def with_override(code: str) -> bytes:
    """The reference solution with some functions redefined after it."""
    return REFERENCE + b"\n\n" + textwrap.dedent(code).encode()


# Wrong on question 1.1a (and the conv2d half of 1.1b), right everywhere else.
WRONG_CONV2D = with_override("""
    def conv2d_output_shape(in_shape, kernel_size, num_filters, stride=1, padding=0, dilation=1):
        return (0, 0, 0)
""")


def sleeping_submission(seconds: float) -> bytes:
    """Correct, but the first call into it sleeps, so a worker is caught in the middle of grading."""
    return with_override(f"""
        import time as _time

        _reference_conv_output_size = conv_output_size
        _slept = False

        def conv_output_size(*args, **kwargs):
            global _slept
            if not _slept:
                _slept = True
                _time.sleep({seconds})
            return _reference_conv_output_size(*args, **kwargs)
    """)


# One failed case of 1.1b, as a report names it, for tests that play the worker.
PADDING_CASE = "test_conv_output_size[L9-K3-S1-P2-D1]"
NO_PADDING = KnownMistake("conv_output_size", "size-no-padding", "the padding is ignored", "count the zeros")


def report_with_wrong_answer(signature: str, mistakes: tuple[KnownMistake, ...] = (),
                             rubric_id: str = "hw2") -> GradeReport:
    """HW2 all passed but PADDING_CASE, where conv_output_size gave the answer `signature`."""
    rubric = on_disk(rubric_id)
    outcomes = [TestOutcome("t", q.id, True) for q in rubric.auto_questions if q.id != "1.1b"]
    outcomes.append(TestOutcome(PADDING_CASE, "1.1b", False, "conv_output_size() returned 7, expected 11",
                                answers=(Answer("conv_output_size", signature, mistakes),)))
    return build_report(rubric, outcomes, "cpu", 0.1)


def report_failing(*question_ids: str, rubric_id: str = "hw2") -> GradeReport:
    """Every auto question passed but `question_ids`, whose one case each failed."""
    rubric = on_disk(rubric_id)
    return build_report(rubric, [TestOutcome(f"t_{q.id}", q.id, q.id not in question_ids, "wrong")
                                 for q in rubric.auto_questions], "cpu", 0.1)


def padding_group(signature: str) -> GroupKey:
    """The group of the answer `signature` in report_with_wrong_answer's case."""
    return GroupKey("1.1b", PADDING_CASE, "conv_output_size", signature)


@dataclass
class Class:
    course: Course
    assignment: Assignment
    instructor: User
    students: list[User]


def make_class(db: Session, students: int = 1, rubric_id: str = "hw2", **assignment: object) -> Class:
    """A course with its own instructor, `students` students and an HW2 assignment, all uniquely named
    and committed; `assignment` holds AssignmentSettings fields (due_at=..., max_submissions=...)."""
    tag = uuid.uuid4().hex[:8]
    instructor = users.create_user(db, f"prof-{tag}@test.edu", f"Prof {tag}", "instructor")
    course = courses.create_course(db, instructor, f"DL-{tag}", "Deep learning")
    people = [
        roster.enrol(db, instructor, course, f"student{i:02d}-{tag}@test.edu", "student", f"Student {i:02d}").user
        for i in range(students)
    ]
    settings = assignments.AssignmentSettings(title="HW2", **assignment)  # type: ignore[arg-type]
    hw = assignments.create_assignment(db, instructor, course, "hw2", rubric_id, settings)
    db.commit()
    return Class(course, hw, instructor, people)


def upload(db: Session, student: User, assignment: Assignment, data: bytes = REFERENCE,
           filename: str = "hw2.py") -> Submission:
    """An upload as the API makes it: stored by the service, then committed, which sends its task."""
    submission = submissions.submit(db, student, assignment, filename, data)
    db.commit()
    return submission


def reconciled(db: Session, older_than_s: float, now: datetime | None = None) -> list[int]:
    """One run of the reconciler as its task makes it (at `now`: default the clock): the submission
    ids sent, committed (which sends them)."""
    sent = reconcile(db, older_than_s, now=now)
    db.commit()
    return sent.submissions


def wait_finished(db: Session, ids: list[int], timeout: float) -> dict[int, str]:
    """Block until every submission is graded or failed; their statuses."""

    def statuses() -> dict[int, str] | None:
        db.rollback()  # a fresh snapshot: see the workers' commits
        found = dict(db.execute(select(Submission.id, Submission.status).where(Submission.id.in_(ids))).all())
        return found if all(found.get(i) in FINISHED for i in ids) else None

    return wait_until(statuses, timeout, f"{len(ids)} submission(s) to be graded")  # type: ignore[return-value]


def heartbeat_goes_stale(db: Session, submission_id: int) -> None:
    """As if the worker of the submission's attempt died a while ago."""
    db.execute(update(Submission).where(Submission.id == submission_id)
               .values(heartbeat_at=utcnow() - timedelta(minutes=5)))
    db.commit()


class SentTasks:
    """Stands in for the broker client (queue.client) only: the tasks that would have been sent, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any], dict[str, Any]]] = []  # task, arguments, options

    def send_task(self, name: str, args: list[Any], **options: Any) -> None:
        self.sent.append((name, list(args), options))

    def of(self, task: str) -> list[tuple[list[Any], dict[str, Any]]]:
        """The arguments and options of each `task` sent."""
        return [(args, options) for name, args, options in self.sent if name == task]

    def ids(self, task: str) -> list[int]:
        """The first argument (an id) of each `task` sent."""
        return [args[0] for args, _ in self.of(task)]

    def option_by_id(self, task: str, option: str) -> dict[int, Any]:
        """Id -> the send option `option` (queue, time_limit, headers) of each `task` sent."""
        return {args[0]: options.get(option) for args, options in self.of(task)}


def sent_as_of(db: Session, submission_ids: list[int], when: datetime) -> None:
    """As if the submissions' requests had last been sent at `when`."""
    db.execute(update(Submission).where(Submission.id.in_(submission_ids)).values(updated_at=when))
    db.commit()


def taken_at(db: Session, submission_id: int, device: str, when: datetime) -> None:
    """As a worker of the queue for `device` claims a submission, at `when`, and still grades it then."""
    last_send = db.scalar(select(Submission.updated_at).where(Submission.id == submission_id))
    submission = db.get_one(Submission, submission_id)
    claimed = claims.claim(db, submission_id, submission.rubric_hash, device, "w1", sent_at=last_send)
    assert claimed is not None
    db.execute(update(GradingRun).where(GradingRun.id == claimed.run_id).values(started_at=when))
    db.execute(update(Submission).where(Submission.id == submission_id).values(heartbeat_at=when))
    db.commit()


def runs_of(db: Session, submission_id: int) -> list[GradingRun]:
    db.rollback()
    return list(db.scalars(select(GradingRun).where(GradingRun.submission_id == submission_id).order_by(GradingRun.id)))


def copy_rubric(rubrics_dir: Path, edit: Callable[[Path], None]) -> str:
    """A new rubric id: hw2 copied under the test rubrics folder, then changed by `edit(folder)`."""
    rubric_id = f"hw2-{uuid.uuid4().hex[:8]}"
    shutil.copytree(rubrics_dir / "hw2", rubrics_dir / rubric_id, ignore=shutil.ignore_patterns("__pycache__"))
    edit(rubrics_dir / rubric_id)
    return rubric_id


def new_version(rubrics_dir: Path) -> str:
    """A new rubric id whose files are a version of their own (hw2 plus a note naming it), so a
    test can forget or change that version without touching another test's."""
    return copy_rubric(rubrics_dir, lambda folder: (folder / "NOTES.txt").write_text(f"{folder.name}\n"))


def uncache(rubric_hash: str) -> None:
    """Remove the version's folder from the rubric cache (read-only, so made writable first)."""
    folder = get_settings().resolved_rubric_cache_dir / rubric_hash
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def forget_version(db: Session, rubric_hash: str) -> None:
    """As if the version had been made before versions were stored: no row, no folder in the cache."""
    db.execute(delete(RubricVersion).where(RubricVersion.hash == rubric_hash))
    db.commit()
    uncache(rubric_hash)


def set_points(folder: Path, question_id: str, points: int) -> None:
    """Change one question's points in rubric.toml, keeping the declared totals consistent."""
    path = folder / "rubric.toml"
    text = path.read_text()
    data = tomllib.loads(text)
    question = next(q for q in data["questions"] if q["id"] == question_id)
    delta = points - question["points"]
    pattern = re.compile(rf'(id = "{re.escape(question_id)}"\n(?:(?!\[\[).*\n)*?points = )\d+')
    text, count = pattern.subn(rf"\g<1>{points}", text)
    assert count == 1, f"question {question_id} not found in {path}"
    counted = ["total_points"] + (["auto_points"] if question.get("grading", "auto") == "auto" else [])
    for key in counted:
        if key in data["assignment"]:
            text = re.sub(rf"^{key} = \d+", f"{key} = {data['assignment'][key] + delta}", text, flags=re.M)
    path.write_text(text)


def add_manual_question(folder: Path, question_id: str, points: int) -> None:
    """Append a question graded by hand to rubric.toml, keeping the declared total consistent."""
    path = folder / "rubric.toml"
    text = path.read_text()
    total = tomllib.loads(text)["assignment"]["total_points"]
    text = re.sub(r"^total_points = \d+", f"total_points = {total + points}", text, flags=re.M)
    path.write_text(text + f'\n[[questions]]\nid = "{question_id}"\ntitle = "Added by hand"\npoints = {points}\n'
                           'grading = "manual"\n')
