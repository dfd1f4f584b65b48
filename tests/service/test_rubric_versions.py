"""Rubric versions on PostgreSQL + Redis with a real Celery worker: an edit on disk grades nothing
until it is published, a regrade uses the published version, an old run is re-run from its stored
version, a worker reads a version only from files that hash to it, and student code cannot read it;
and a regrade published while a worker starts grading is graded with the new version. An upload
that overlaps a publish is graded with the new version or is part of its regrade. A question a
new version hides is hidden from students at once, before a regrade reaches them."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from grader.config import get_settings
from grader.db.models import Assignment, RegradeItem, RubricVersion, RunStatus, Submission, User
from grader.db.session import session_scope
from grader.engine import Engine, StartedGrading
from grader.rubric_diff import PointsChange
from grader.services import claims, grading, publishing, regrades, results, rubrics, submissions
from grader.services.errors import Forbidden, Rejected
from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.service.helpers import (
    REFERENCE,
    WRONG_CONV2D,
    Class,
    forget_version,
    make_class,
    new_version,
    report_with_wrong_answer,
    runs_of,
    set_points,
    uncache,
    upload,
    wait_finished,
)

TIMEOUT_S = 120
LOCK_WAIT_S = 30  # the most a session of the tests below waits for a lock: a deadlock fails them, never hangs them


def _regraded(db: Session, viewer: object, batch_id: int) -> None:
    def finished() -> bool:
        db.rollback()
        return regrades.regrade_progress(db, viewer, batch_id)["status"] == "finished"  # type: ignore[arg-type]

    wait_until(finished, TIMEOUT_S, f"regrade {batch_id} to finish", interval=0.3)


def _cached(rubric_hash: str) -> Path:
    return get_settings().resolved_rubric_cache_dir / rubric_hash


def test_an_edit_on_disk_grades_nothing_until_published_and_the_regrade_uses_the_new_version(
    postgres_db: Session, postgres_stack: Stack, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    rubric_id = new_version(postgres_stack.rubrics_dir)
    klass = make_class(db, students=2, rubric_id=rubric_id)
    first, second = klass.students
    v1 = klass.assignment.rubric_hash
    early = upload(db, first, klass.assignment)
    wait_finished(db, [early.id], TIMEOUT_S)

    set_points(postgres_stack.rubrics_dir / rubric_id, "1.1a", 2)  # on disk only
    late = upload(db, second, klass.assignment)
    assert wait_finished(db, [late.id], TIMEOUT_S) == {late.id: "graded"}
    [run] = runs_of(db, late.id)
    assert (run.rubric_hash, run.score, run.max_score) == (v1, 37, 37)
    fresh = submissions.feedback(db, late, klass.instructor)
    assert fresh.rubric_hash == v1 and not fresh.stale  # a fresh upload is not "older rubric"
    disk = rubrics.disk_rubric(rubric_id)
    assert disk.hash is not None and disk.hash != v1  # what the scores page warns about

    status = publishing.rubric_status(db, klass.instructor, klass.assignment)
    assert status.changed and status.diff is not None and status.submissions == 2
    assert status.diff.points == (PointsChange("1.1a", "Conv2d output shape of the worked example", 1, 2),)
    assert (status.diff.added, status.diff.removed, status.diff.files) == ((), (), ("rubric.toml",))
    with pytest.raises(Forbidden):
        publishing.publish(db, first, klass.assignment)
    with pytest.raises(Rejected) as moved:
        publishing.publish(db, klass.instructor, klass.assignment, expected_hash=v1)
    assert moved.value.status_code == 409 and "review the changes again" in moved.value.message
    db.rollback()
    publishing.publish(db, klass.instructor, klass.assignment, expected_hash=disk.hash)
    db.commit()
    v2 = klass.assignment.rubric_hash
    assert v2 == disk.hash
    assert set(db.scalars(select(RubricVersion.hash).where(RubricVersion.hash.in_([v1, v2])))) == {v1, v2}
    assert submissions.feedback(db, late, klass.instructor).stale  # until regraded

    batch = regrades.start_regrade(db, klass.instructor, klass.assignment, "1.1a is worth 2 points")
    db.commit()
    assert batch.rubric_hash == v2
    _regraded(db, klass.instructor, batch.id)
    for sid in (early.id, late.id):
        newest = runs_of(db, sid)[-1]
        assert (newest.status, newest.rubric_hash, newest.score, newest.max_score) == (RunStatus.completed, v2, 38, 38)
    assert [(c["old_score"], c["new_score"]) for c in regrades.regrade_diff(db, klass.instructor, batch.id)] == [
        (37, 38), (37, 38)]


def test_an_old_run_is_re_run_from_its_stored_version_after_the_folder_changed(
    postgres_db: Session, postgres_stack: Stack, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    rubric_id = new_version(postgres_stack.rubrics_dir)
    folder = postgres_stack.rubrics_dir / rubric_id
    klass = make_class(db, rubric_id=rubric_id)
    v1 = klass.assignment.rubric_hash
    submission = upload(db, klass.students[0], klass.assignment, WRONG_CONV2D)
    wait_finished(db, [submission.id], TIMEOUT_S)
    [original] = runs_of(db, submission.id)

    set_points(folder, "1.1b", 4)
    publishing.publish(db, klass.instructor, klass.assignment)
    db.commit()
    (folder / "test_conv.py").write_text("raise RuntimeError('this folder is being rewritten')\n")  # not published
    cached = _cached(v1)
    assert cached.is_dir()
    uncache(v1)  # the worker writes the version out again from the database (a re-run only checks it is stored)

    with pytest.raises(Forbidden):
        regrades.rerun(db, klass.students[0], original.id)
    batch = regrades.rerun(db, klass.instructor, original.id)
    db.commit()
    assert batch.rubric_hash == v1
    _regraded(db, klass.instructor, batch.id)
    again = runs_of(db, submission.id)[-1]
    assert again.id != original.id and (again.status, again.rubric_hash) == (RunStatus.completed, v1)
    assert (again.score, again.max_score) == (original.score, original.max_score) == (35, 37)
    assert [(t.name, t.status, t.score) for t in again.tests] == [(t.name, t.status, t.score) for t in original.tests]
    assert regrades.regrade_diff(db, klass.instructor, batch.id) == []  # the audit found the same score
    written = [cached, *(path for path in cached.rglob("*") if "__pycache__" not in path.parts)]
    assert len(written) > 5 and all(not path.stat().st_mode & 0o222 for path in written)  # read-only

    forget_version(db, v1)  # a version that is gone, from a folder that has changed since
    with pytest.raises(Rejected) as gone:
        regrades.rerun(db, klass.instructor, original.id)
    assert gone.value.status_code == 409 and f"rubric version {v1} is not stored" in gone.value.message


def test_a_regrade_published_while_a_worker_starts_grading_is_graded_with_the_new_version(
    quiet_db: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker reads the request's version, then starts the sandbox (seconds) and claims. A publish
    with a regrade in between was claimed, graded with the old version and recorded as the regrade's
    result; the regrade's own message then found nothing to do."""
    db = quiet_db
    rubric_id = new_version(get_settings().rubrics_dir)
    klass = make_class(db, rubric_id=rubric_id)
    submission = upload(db, klass.students[0], klass.assignment)
    batches: list[int] = []
    start = engine.start

    def publish_while_starting(*args: Any, **kwargs: Any) -> StartedGrading:
        if not batches:  # the instructor, in the web process, while the first grading starts
            set_points(get_settings().rubrics_dir / rubric_id, "1.1a", 2)
            with session_scope() as web:
                assignment = web.get_one(Assignment, klass.assignment.id)
                regrade = publishing.publish(web, web.get_one(User, klass.instructor.id), assignment,
                                             regrade=True).regrade
                web.commit()
                assert regrade is not None
                batches.append(regrade.id)
        return start(*args, **kwargs)

    monkeypatch.setattr(engine, "start", publish_while_starting)
    upload_message = grading.grade_submission(engine, submission.id, "cpu", "w1")
    regrade_message = grading.grade_submission(engine, submission.id, "cpu", "w2")

    db.expire_all()
    v2 = db.get_one(Assignment, klass.assignment.id).rubric_hash
    assert [(r.request_no, r.rubric_hash, r.status, r.score) for r in runs_of(db, submission.id)] == [
        (2, v2, RunStatus.completed, 38),
    ]
    assert (upload_message, regrade_message) == (None, RunStatus.completed)  # request 1 was overtaken
    [change] = regrades.regrade_diff(db, klass.instructor, batches[0])
    assert (change["old_score"], change["new_score"], change["new_rubric_hash"]) == (None, 38, v2)


class _OtherRequest:
    """`action` in a session of its own on a thread, then committed, as another request runs it
    (on PostgreSQL: its locks are watched)."""

    def __init__(self, action: Callable[[Session], int | None]) -> None:
        self._result: int | None = None
        self._error: BaseException | None = None
        self._pid: int | None = None
        self._thread = threading.Thread(target=self._run, args=(action,), daemon=True)
        self._thread.start()

    def _run(self, action: Callable[[Session], int | None]) -> None:
        try:
            with session_scope() as db:
                db.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_S}s'"))
                self._pid = db.scalar(text("SELECT pg_backend_pid()"))
                self._result = action(db)
                db.commit()
        except BaseException as exc:  # noqa: BLE001 - raised again by `result`
            self._error = exc

    def waits_or_ended(self, db: Session) -> bool:
        """Whether the action has ended or waits for a lock another transaction holds (asked in `db`)."""
        if not self._thread.is_alive():
            return True
        return self._pid is not None and bool(db.scalar(
            text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = :pid AND NOT granted)"), {"pid": self._pid}))

    def result(self) -> int | None:
        """What the action returned, once committed; what it raised, raised again."""
        self._thread.join(LOCK_WAIT_S * 2)
        assert not self._thread.is_alive(), "the other request is still running"
        if self._error is not None:
            raise self._error
        return self._result


def _publish_with_regrade(db: Session, klass: Class) -> int | None:
    """The instructor publishes the folder on disk with a regrade, in `db`: the regrade's id."""
    batch = publishing.publish(db, db.get_one(User, klass.instructor.id), db.get_one(Assignment, klass.assignment.id),
                               regrade=True).regrade
    return batch.id if batch is not None else None


def _published_and_graded_with(db: Session, klass: Class, submission_id: int) -> tuple[str, str]:
    """The assignment's published version and the one the submission's request is graded with, as committed."""
    db.expire_all()
    return (db.get_one(Assignment, klass.assignment.id).rubric_hash,
            db.get_one(Submission, submission_id).rubric_hash)


def _version_to_publish(db: Session, students: int = 1) -> tuple[Class, str]:
    """A class on a rubric of its own whose folder has a new version (1.1a worth 2) not yet
    published, and the hash its assignment is on."""
    rubrics_dir = get_settings().rubrics_dir
    rubric_id = new_version(rubrics_dir)
    klass = make_class(db, students=students, rubric_id=rubric_id)
    set_points(rubrics_dir / rubric_id, "1.1a", 2)
    return klass, klass.assignment.rubric_hash


def test_an_upload_stored_before_a_publish_with_a_regrade_commits_is_part_of_that_regrade(
    quiet_postgres_db: Session,
) -> None:
    """The upload's row is stored, not committed, when the instructor publishes with a regrade. The
    regrade took only the committed submissions, and the upload, committed after it, named the old
    version: left stale, with no batch to grade it again."""
    db = quiet_postgres_db
    klass, old = _version_to_publish(db, students=2)
    earlier = upload(db, klass.students[0], klass.assignment)
    late = submissions.submit(db, klass.students[1], klass.assignment, "hw2.py", REFERENCE)

    publish = _OtherRequest(lambda web: _publish_with_regrade(web, klass))
    wait_until(lambda: publish.waits_or_ended(db), LOCK_WAIT_S, "the publish to end or to wait for the upload")
    db.commit()
    batch_id = publish.result()

    assert sorted(db.scalars(select(RegradeItem.submission_id).where(RegradeItem.batch_id == batch_id))) == [
        earlier.id, late.id]
    published, graded_with = _published_and_graded_with(db, klass, late.id)
    assert published != old and graded_with == published


def test_an_upload_made_while_a_publish_is_in_flight_is_graded_with_the_published_version(
    quiet_postgres_db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publish has read what it changes (no submission yet: nothing to regrade) when the first
    upload comes. The upload committed before it with the old version, and no regrade came."""
    db = quiet_postgres_db
    klass, old = _version_to_publish(db)
    student_id, assignment_id = klass.students[0].id, klass.assignment.id
    uploads: list[_OtherRequest] = []
    publish_from_disk = rubrics.publish_from_disk

    def upload_meanwhile(web: Session, assignment: Assignment) -> Any:
        uploads.append(_OtherRequest(lambda other: submissions.submit(
            other, other.get_one(User, student_id), other.get_one(Assignment, assignment_id), "hw2.py", REFERENCE).id))
        wait_until(lambda: uploads[0].waits_or_ended(web), LOCK_WAIT_S, "the upload to end or to wait for the publish")
        return publish_from_disk(web, assignment)

    monkeypatch.setattr(rubrics, "publish_from_disk", upload_meanwhile)
    published_now = publishing.publish(db, klass.instructor, klass.assignment, regrade=True)
    db.commit()
    submission_id = uploads[0].result()

    assert submission_id is not None and published_now.regrade is None
    published, graded_with = _published_and_graded_with(db, klass, submission_id)
    assert published != old and graded_with == published


def test_an_upload_whose_request_began_before_a_publish_is_graded_with_the_published_version(
    quiet_db: Session,
) -> None:
    """The upload's request loaded the assignment, a publish committed, then the upload was stored:
    it named the version its request had loaded, which the publish had replaced."""
    db = quiet_db
    klass, old = _version_to_publish(db)
    with session_scope() as web:
        assignment, student = web.get_one(Assignment, klass.assignment.id), web.get_one(User, klass.students[0].id)
        assert publishing.publish(db, klass.instructor, klass.assignment).before.changed
        db.commit()
        submission = upload(web, student, assignment)

    published, graded_with = _published_and_graded_with(db, klass, submission.id)
    assert published != old and graded_with == published


def test_a_version_is_read_only_from_files_that_hash_to_it(
    postgres_db: Session, postgres_stack: Stack, postgres_worker: WorkerProcess
) -> None:
    """A cached version changed by hand (here its reference, which would fail every student) is
    written out again from the database before a worker grades with it."""
    db = postgres_db
    klass = make_class(db, rubric_id=new_version(postgres_stack.rubrics_dir))
    reference = _cached(klass.assignment.rubric_hash) / "reference.py"
    reference.chmod(0o644)
    wrong = "\n\ndef conv2d_output_shape(*args, **kwargs):\n    return (9, 9, 9)\n"
    reference.write_text(reference.read_text() + wrong)

    submission = upload(db, klass.students[0], klass.assignment)
    assert wait_finished(db, [submission.id], TIMEOUT_S) == {submission.id: "graded"}
    assert runs_of(db, submission.id)[0].score == 37
    assert "(9, 9, 9)" not in reference.read_text()


def test_a_version_made_before_versions_were_stored_is_stored_from_its_unchanged_folder(
    postgres_db: Session, postgres_stack: Stack
) -> None:
    db = postgres_db
    klass = make_class(db, rubric_id=new_version(postgres_stack.rubrics_dir))
    version = klass.assignment.rubric_hash
    forget_version(db, version)
    assert rubrics.published(db, klass.assignment).content_hash == version
    db.commit()
    assert db.get(RubricVersion, version) is not None


def test_student_code_cannot_read_the_version_it_is_graded_with(
    postgres_db: Session, postgres_stack: Stack, engine: Engine
) -> None:
    """The grading path itself: a version read from the cache, and code that looks for its files."""
    db = postgres_db
    klass = make_class(db, rubric_id=new_version(postgres_stack.rubrics_dir))
    rubric = rubrics.published(db, klass.assignment)
    attack = REFERENCE + textwrap.dedent(f"""

        _stolen = []
        for _path in ({str(rubric.directory / 'reference.py')!r}, {str(rubric.directory / 'rubric.toml')!r}):
            try:
                _stolen.append(open(_path).read())
            except OSError:
                pass
        try:
            _stolen.append(__import__("os").listdir({str(rubric.directory.parent)!r}))
        except OSError:
            pass
        if _stolen:
            raise RuntimeError("read %d of the rubric's files" % len(_stolen))
    """).encode()
    report = engine.grade(attack, "hw2.py", rubric)
    assert report.score == 37, report.question("1.1a").output


def test_a_question_a_new_version_hides_is_hidden_before_a_regrade_reaches_it(quiet_db: Session) -> None:
    """A stale run's scores count until a regrade, but what students may see is the published
    version's to say: hiding a question is how an instructor stops its tests' feedback leaking."""
    db = quiet_db  # the test plays the worker
    rubrics_dir = get_settings().rubrics_dir
    rubric_id = new_version(rubrics_dir)
    klass = make_class(db, rubric_id=rubric_id)
    [student] = klass.students
    submission = upload(db, student, klass.assignment)
    claim = claims.claim(db, submission.id, klass.assignment.rubric_hash, "cpu", "versions-test")
    assert claim is not None and results.record_result(db, claim, report_with_wrong_answer("7", rubric_id=rubric_id))
    seen = {q.question_id: q for q in submissions.feedback(db, submission, student).questions}
    assert "returned 7, expected 11" in seen["1.1b"].feedback

    toml = rubrics_dir / rubric_id / "rubric.toml"
    shown = 'id = "1.1b"\ntitle = "Conv output size for any stride, padding and dilation"\npoints = 2\n'
    assert shown in toml.read_text()
    toml.write_text(toml.read_text().replace(shown, f'{shown}visibility = "hidden"\n'))
    assert publishing.publish(db, klass.instructor, klass.assignment).before.changed  # no regrade
    db.commit()

    student_view = submissions.feedback(db, submission, student)
    assert student_view.stale and "1.1b" not in {q.question_id for q in student_view.questions}
    staff_view = {q.question_id: q for q in submissions.feedback(db, submission, klass.instructor).questions}
    assert staff_view["1.1b"].visibility == "hidden" and "returned 7, expected 11" in staff_view["1.1b"].feedback
