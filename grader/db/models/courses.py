"""Courses and who is in them, assignments with their settings and rubric versions, and the per-student
exceptions to an assignment's rules (extensions, the submission a student chose to count)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grader.db.base import Base, utcnow
from grader.db.models.people import User


class CourseRole(StrEnum):
    """What one may do in a course: grader.services.permissions says which role may do what."""

    student = "student"
    ta = "ta"
    instructor = "instructor"


class LatePolicy(StrEnum):
    none = "none"  # late uploads are accepted (and shown as late)
    reject = "reject"  # uploads after the due date are refused


class CountingRule(StrEnum):
    """Which of a student's submissions counts for the assignment."""

    last = "last"
    best = "best"  # the highest credited score
    chosen = "chosen"  # the one the student marked (their last until they mark one)


class Device(StrEnum):
    """The device an assignment's rubric asks for (its `RequestedDevice`), as stored."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Course(Base):
    """An archived course keeps everything readable and gradable, but takes no more uploads and no
    changes to its roster, assignments, extensions, grace days or the submissions that count."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    grace_days: Mapped[int] = mapped_column(default=0, server_default=text("0"))  # per student, all assignments
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]


class Enrolment(Base):
    """The student's identities in the university's systems, as the roster import found them, are
    kept here so the gradebook export matches Canvas's rows (Canvas ID, SIS User ID, SIS Login ID)."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[CourseRole]
    # The student's ids in the campus systems, for the Canvas gradebook CSV.
    canvas_id: Mapped[str | None] = mapped_column(String(50))
    sis_user_id: Mapped[str | None] = mapped_column(String(100))
    sis_login_id: Mapped[str | None] = mapped_column(String(100))
    section: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class RubricVersion(Base):
    """The files of one rubric version (a deterministic archive, `grader.rubric_archive`), stored
    under their hash: every version an assignment has published, so any score can be re-run."""

    __tablename__ = "rubric_versions"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    archive: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """`rubric_hash` is the published rubric version: what new submissions and regrades are graded
    with, whatever the folder on disk holds now (`grader rubric publish` moves it).

    `cooldown_s`: the wait between two uploads of one student (None or 0: none). `release_at`:
    when students see the details of after_due_date questions (None: at the due date).
    Late work: `late_credit` holds credit windows ('2d=80,7d=50'), NULL when late work is not
    penalised; `late_policy` reject refuses uploads after the last window (grader.services.late_rules).
    """

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    rubric_id: Mapped[str] = mapped_column(String(100))
    rubric_hash: Mapped[str] = mapped_column(String(64))
    device: Mapped[Device]
    due_at: Mapped[datetime | None]
    late_policy: Mapped[LatePolicy]
    late_credit: Mapped[str | None] = mapped_column(String(200))
    counts: Mapped[CountingRule] = mapped_column(default=CountingRule.last, server_default=CountingRule.last.value)
    max_submissions: Mapped[int | None]
    cooldown_s: Mapped[int | None]
    release_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship()

    @property
    def course_code(self) -> str:
        """The course's code, by which students name it (the API's assignment answers carry it)."""
        return self.course.code


class Extension(Base):
    """A due date of one student's own for one assignment; late credit counts from it."""

    __tablename__ = "extensions"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    due_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ChosenSubmission(Base):
    """The submission a student marked as the one that counts (assignments that count `chosen`)."""

    __tablename__ = "chosen_submissions"

    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)
