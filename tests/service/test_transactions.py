"""The transaction boundary is one-way: services never commit, their caller commits once.

The seeding of the demo course is one transaction; every mutating service, rolled back by its
caller, leaves the database as it was; and a route's session commits before its answer starts, so
a client never sees success for a change that is not stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grader.api.main import create_app
from grader.db.base import Base, utcnow
from grader.db.models import Assignment, Course, Enrolment, ManualGrade, Submission, User
from grader.db.session import session_scope, upgrade_schema
from grader.devserver import seed_if_empty
from grader.services import (
    answer_groups,
    assignments,
    claims,
    courses,
    extensions,
    grace,
    invitations,
    manual_grades,
    publishing,
    regrades,
    results,
    roster,
    seed,
    submissions,
    users,
)
from grader.services.errors import Rejected
from grader.services.reconcile import reconcile
from tests.fixtures.services import Stack, key_prefix
from tests.service.helpers import REFERENCE, make_class, padding_group, report_with_wrong_answer, upload


@pytest.fixture(params=["postgres", "sqlite"])
def fresh_stack(request: pytest.FixtureRequest, use_stack: Callable[[Stack], None]) -> Stack:
    """A migrated, empty database of this test's own (nothing else writes to it), and queues no
    worker reads."""
    if request.param == "sqlite":
        stack: Stack = request.getfixturevalue("sqlite_stack")
    else:
        url = request.getfixturevalue("empty_postgres_database")
        upgrade_schema(url)
        shared: Stack = request.getfixturevalue("postgres_stack")
        stack = dataclasses.replace(shared, database_url=url, broker_key_prefix=key_prefix())
    use_stack(stack)
    return stack


@contextmanager
def counted_commits() -> Iterator[list[Session]]:
    """Every session commit in this process while the block runs, one entry each."""
    commits: list[Session] = []

    def note(session: Session) -> None:
        commits.append(session)

    event.listen(Session, "after_commit", note)
    try:
        yield commits
    finally:
        event.remove(Session, "after_commit", note)


def _count(model: type[Base]) -> int:
    with session_scope() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def test_seeding_the_demo_is_one_commit(fresh_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    with counted_commits() as commits:
        seed_if_empty("http://127.0.0.1:8000")
    assert len(commits) == 1
    assert "Seeded the demo course DL-DEMO" in capsys.readouterr().out
    code, _title = seed.DEMO_COURSE
    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.code == code))
        assert course is not None
        assert db.scalar(select(Assignment.slug).where(Assignment.course_id == course.id)) == "hw2"
        enrolled = db.scalars(select(User.email).join(Enrolment).where(Enrolment.course_id == course.id)).all()
        # The admin sees every course without an enrolment.
        assert sorted(enrolled) == sorted(email for email, _, role, _ in seed.DEMO_PEOPLE.values() if role != "admin")


def test_a_seeding_that_fails_leaves_the_database_empty(fresh_stack: Stack, tmp_path: Path,
                                                        use_stack: Callable[[Stack], None]) -> None:
    """The demo's rubric is missing: its course, made first, is not left behind either."""
    use_stack(dataclasses.replace(fresh_stack, rubrics_dir=tmp_path))
    with pytest.raises(Rejected, match="cannot be used"):
        seed_if_empty("http://127.0.0.1:8000")
    assert (_count(Course), _count(User), _count(Assignment)) == (0, 0, 0)


def _snapshot() -> dict[str, list[str]]:
    """Every committed row of every table, as text."""
    with session_scope() as db:
        return {table.name: sorted(repr(tuple(row)) for row in db.execute(select(table)))
                for table in Base.metadata.sorted_tables}


SIGNATURE = "a6abe6506e94a095"  # of the scene's graded wrong answer


@dataclasses.dataclass(frozen=True)
class _Ids:
    """A committed class: one submission queued, one claimed and running, a token to revoke, and a
    graded one whose wrong answer has the staff's feedback."""

    assignment: int
    instructor: int
    student: int
    queued: int
    running: int
    token: int


@dataclasses.dataclass(frozen=True)
class _Scene:
    """The class of `_Ids`, loaded in the session an action runs in."""

    assignment: Assignment
    instructor: User
    student: User
    queued: Submission
    running: Submission
    token: int


def _commit_scene(db: Session) -> _Ids:
    klass = make_class(db, students=2, due_at=utcnow() + timedelta(days=7))
    queued = upload(db, klass.students[0], klass.assignment)
    running = upload(db, klass.students[1], klass.assignment)
    assert claims.claim(db, running.id, klass.assignment.rubric_hash, "cpu", "w1", "task-1") is not None
    _token, row = users.create_token(db, klass.students[0])
    graded = upload(db, klass.students[1], klass.assignment)
    graded_claim = claims.claim(db, graded.id, klass.assignment.rubric_hash, "cpu", "w1")
    assert graded_claim is not None and results.record_result(db, graded_claim, report_with_wrong_answer(SIGNATURE))
    answer_groups.set_group_feedback(db, klass.instructor, klass.assignment, padding_group(SIGNATURE), "a hint")
    db.commit()
    return _Ids(klass.assignment.id, klass.instructor.id, klass.students[0].id, queued.id, running.id, row.id)


def _load(db: Session, ids: _Ids) -> _Scene:
    return _Scene(db.get_one(Assignment, ids.assignment), db.get_one(User, ids.instructor),
                  db.get_one(User, ids.student), db.get_one(Submission, ids.queued),
                  db.get_one(Submission, ids.running), ids.token)


ACTIONS: dict[str, Callable[[Session, _Scene], object]] = {
    "create_user": lambda db, s: users.create_user(db, "someone-new@test.edu", "Someone", "student", "passphrase"),
    "create_token": lambda db, s: users.create_token(db, s.student),
    "revoke_token": lambda db, s: users.revoke_token(db, s.student, s.token),
    "end_sessions": lambda db, s: users.end_sessions(db, s.student),
    "create_course": lambda db, s: courses.create_course(db, s.instructor, "NEW-101", "A new course"),
    "archive_course": lambda db, s: courses.archive_course(db, s.instructor, s.assignment.course),
    "enrol": lambda db, s: roster.enrol(db, s.instructor, s.assignment.course, s.student.email, "ta"),
    "enrol_new_account": lambda db, s: roster.enrol(db, s.instructor, s.assignment.course, "new@test.edu", "student"),
    "import_roster": lambda db, s: roster.import_roster(db, s.instructor, s.assignment.course,
                                                        b"email,name,role\nrostered@test.edu,Rostered,student\n"),
    "drop": lambda db, s: roster.drop(db, s.instructor, s.assignment.course, s.student.id),
    "create_assignment": lambda db, s: assignments.create_assignment(
        db, s.instructor, s.assignment.course, "hw3", "hw2", assignments.AssignmentSettings(title="HW3")),
    "update_assignment": lambda db, s: assignments.update_assignment(
        db, s.instructor, s.assignment, dataclasses.replace(assignments.settings_of(s.assignment), max_submissions=1,
                                                            late_credit="2d=80", counts="best")),
    "grant_extension": lambda db, s: extensions.grant_extension(db, s.instructor, s.assignment, s.student.id,
                                                                utcnow() + timedelta(days=9), "flu"),
    "set_grace_days": lambda db, s: grace.set_grace_days(db, s.instructor, s.assignment.course, 3),
    "publish": lambda db, s: publishing.publish(db, s.instructor, s.assignment),
    "submit": lambda db, s: submissions.submit(db, s.student, s.assignment, "hw2.py", REFERENCE),
    "set_manual_grade": lambda db, s: manual_grades.set_manual_grade(db, s.instructor, s.queued, "1.3.1", 1),
    "start_regrade": lambda db, s: regrades.start_regrade(db, s.instructor, s.assignment, "why"),
    "reconcile": lambda db, s: reconcile(db, older_than_s=0),
    "handle_timeout": lambda db, s: results.handle_timeout(db, s.running.id, "task-1", 5.0),
    "seed_demo": lambda db, s: seed.seed_demo(db),
    "set_group_feedback": lambda db, s: answer_groups.set_group_feedback(
        db, s.instructor, s.assignment, padding_group(SIGNATURE), "another hint"),
    "clear_group_feedback": lambda db, s: answer_groups.clear_group_feedback(
        db, s.instructor, s.assignment, padding_group(SIGNATURE)),
    "issue_invites": lambda db, s: invitations.issue_invites(db, s.instructor, s.assignment.course, None),
    "accept_invite": lambda db, s: invitations.accept_invite(
        db, _invite_token(db, s), "a new passphrase", "a new passphrase"),
}


def _invite_token(db: Session, s: _Scene) -> str:
    """The token of a fresh link for the scene's student."""
    (invite,) = invitations.issue_invites(db, s.instructor, s.assignment.course, [s.student.email]).invites
    return invite.link.rsplit("/", 1)[1]


def test_a_service_rolled_back_by_its_caller_leaves_nothing_behind(fresh_stack: Stack) -> None:
    with session_scope() as db:
        ids = _commit_scene(db)
    before = _snapshot()
    for name, action in ACTIONS.items():
        with session_scope() as db, counted_commits() as commits:
            action(db, _load(db, ids))
            db.flush()  # whatever it changed has reached the database
            db.rollback()
        assert commits == [], f"{name} committed"
        assert _snapshot() == before, f"{name} left something behind"


def _answering_sees(app: ASGIApp, probe: Callable[[], object]) -> tuple[ASGIApp, list[object]]:
    """`app`, and what `probe()` read from the database (its own session) as each answer started."""
    seen: list[object] = []

    async def noting(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen.append(probe())
            await send(message)

        await app(scope, receive, send_noting)

    return noting, seen


def _submissions_of(assignment_id: int) -> int:
    with session_scope() as db:
        return db.scalar(select(func.count()).where(Submission.assignment_id == assignment_id)) or 0


def _manual_score(submission_id: int) -> float | None:
    with session_scope() as db:
        return db.scalar(select(ManualGrade.score).where(ManualGrade.submission_id == submission_id))


async def _ask(app: ASGIApp, method: str, path: str, token: str, **request: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://grader.test") as client:
        return await client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **request)


def test_a_route_commits_before_its_answer_starts(quiet_db: Session) -> None:
    db = quiet_db
    klass = make_class(db, max_submissions=1)
    student, instructor = users.issue_token(db, klass.students[0]), users.issue_token(db, klass.instructor)
    db.commit()
    uploads = f"/api/assignments/{klass.assignment.id}/submissions"
    files = {"file": ("hw2.py", REFERENCE)}
    app, seen = _answering_sees(create_app(), lambda: _submissions_of(klass.assignment.id))
    accepted = asyncio.run(_ask(app, "POST", uploads, student, files=files))
    assert accepted.status_code == 202, accepted.text
    refused = asyncio.run(_ask(app, "POST", uploads, student, files=files))
    assert refused.status_code == 429, refused.text  # its row was flushed before it was counted
    assert seen == [1, 1]  # the first stored as its 202 started; the refused one rolled back before its 429

    submission_id = accepted.json()["id"]
    app, seen = _answering_sees(create_app(), lambda: _manual_score(submission_id))
    graded = asyncio.run(_ask(app, "PUT", f"/api/submissions/{submission_id}/manual-grades/1.3.1", instructor,
                              json={"score": 1}))
    assert graded.status_code == 200, graded.text
    assert seen == [1.0]
