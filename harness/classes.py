"""A large graded class written straight into the database, for the scores page's tests and
benchmark: hundreds of students with a graded submission each, as a finished grading run leaves
them (a completed run on the assignment's rubric, its per-question scores, some manual grades),
without grading anything. Deterministic for a seed; bulk INSERTs, so 600 students take a second.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import (
    Assignment,
    CourseRole,
    Enrolment,
    GradingRun,
    ManualGrade,
    QuestionScore,
    RunStatus,
    Submission,
    SubmissionStatus,
    User,
)
from grader.rubric_spec import Rubric

SHARES = (0.0, 0.5, 1.0, 1.0, 1.0)  # of a question's points: most answers right, some half, some wrong
NO_SUBMISSION_EVERY = 10  # every tenth student has not submitted
MANUAL_GRADE_EVERY = 3  # every third submission has its manual questions graded


@dataclass(frozen=True)
class SeededClass:
    student_ids: list[int]
    submission_ids: list[int]
    max_total: float


def _insert(db: Session, model: type, rows: list[dict[str, object]]) -> list[int]:
    """Insert `rows` at once; their ids, in order (RETURNING keeps the order of the rows)."""
    if not rows:
        return []
    return list(db.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), rows))


def seed_graded_class(db: Session, assignment: Assignment, rubric: Rubric, students: int, seed: int = 0,
                      tag: str = "seeded") -> SeededClass:
    """`students` new students enrolled in the assignment's course, nine in ten with one graded
    submission; not committed (the caller commits). Emails are `<tag>-<n>@seeded.test`."""
    rng = random.Random(seed)
    now = utcnow()
    student_ids = _insert(db, User, [
        {"email": f"{tag}-{n:04d}@seeded.test", "name": f"Seeded Student {n:04d}", "role": "student",
         "created_at": now}
        for n in range(students)
    ])
    _insert(db, Enrolment, [{"course_id": assignment.course_id, "user_id": uid, "role": CourseRole.student}
                            for uid in student_ids])
    submitters = [uid for n, uid in enumerate(student_ids) if n % NO_SUBMISSION_EVERY != NO_SUBMISSION_EVERY - 1]
    content = b"# a seeded submission: its scores were written, not graded\n"
    submission_ids = _insert(db, Submission, [
        {"assignment_id": assignment.id, "user_id": uid, "filename": "hw2.py", "size": len(content),
         "sha256": hashlib.sha256(content).hexdigest(), "content": content, "created_at": now,
         "status": SubmissionStatus.graded, "request_no": 1, "attempts": 1, "sends": 0, "updated_at": now,
         "rubric_hash": assignment.rubric_hash}
        for uid in submitters
    ])
    scores = [{q.id: q.points * rng.choice(SHARES) for q in rubric.auto_questions} for _ in submission_ids]
    run_ids = _insert(db, GradingRun, [
        {"submission_id": sid, "request_no": 1, "attempt_no": 1, "rubric_hash": assignment.rubric_hash,
         "worker_host": "seeded", "device": "cpu", "started_at": now, "finished_at": now, "duration_s": 0.1,
         "status": RunStatus.completed, "score": sum(points.values()), "max_score": rubric.auto_points,
         "output": "", "student_output": ""}
        for sid, points in zip(submission_ids, scores, strict=True)
    ])
    _insert(db, QuestionScore, [
        {"run_id": rid, "question_id": q.id, "title": q.title, "visibility": q.visibility, "score": points[q.id],
         "max_score": q.points, "status": "passed" if points[q.id] == q.points else "failed",
         "passed_tests": 1 if points[q.id] == q.points else 0, "total_tests": 1, "feedback": "", "printed": ""}
        for rid, points in zip(run_ids, scores, strict=True) for q in rubric.auto_questions
    ])
    instructor = db.scalar(select(Enrolment.user_id).where(Enrolment.course_id == assignment.course_id,
                                                           Enrolment.role == CourseRole.instructor))
    manual = [q for q in rubric.questions if not q.auto]
    _insert(db, ManualGrade, [
        {"submission_id": sid, "question_id": q.id, "score": q.points * rng.choice(SHARES), "comment": "",
         "grader_id": instructor, "rubric_hash": assignment.rubric_hash, "graded_at": now}
        for n, sid in enumerate(submission_ids) if n % MANUAL_GRADE_EVERY == 0 for q in manual
    ])
    return SeededClass(student_ids, submission_ids, rubric.total_points)
