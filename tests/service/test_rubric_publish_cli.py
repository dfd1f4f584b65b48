"""`grader rubric publish`: prints the diff of questions and points, publishes, and with --regrade
regrades on a real worker; bad input exits 2 with the reason and publishes nothing."""

from __future__ import annotations

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from grader.cli import app
from grader.db.models import Assignment
from grader.rubric_spec import content_hash
from tests.fixtures.services import Stack, WorkerProcess
from tests.service.helpers import add_manual_question, make_class, new_version, set_points, upload, wait_finished

TIMEOUT_S = 120


def _published(db: Session, assignment_id: int) -> str:
    db.expire_all()
    return db.get_one(Assignment, assignment_id).rubric_hash


def test_rubric_publish_prints_the_diff_publishes_and_regrades(
    postgres_db: Session, postgres_stack: Stack, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    rubric_id = new_version(postgres_stack.rubrics_dir)
    folder = postgres_stack.rubrics_dir / rubric_id
    klass = make_class(db, rubric_id=rubric_id)
    first = klass.assignment.rubric_hash
    submission = upload(db, klass.students[0], klass.assignment)
    wait_finished(db, [submission.id], TIMEOUT_S)
    cli = CliRunner()
    publish = ["rubric", "publish", "hw2", "--course", klass.course.code, "--by", klass.instructor.email]

    unchanged = cli.invoke(app, publish)
    assert unchanged.exit_code == 0, unchanged.output
    assert "nothing to publish" in unchanged.output

    set_points(folder, "1.1a", 2)
    add_manual_question(folder, "1.4", 2)
    second = content_hash(folder)
    scores = cli.invoke(app, ["scores", "hw2", "--course", klass.course.code, "--by", klass.instructor.email])
    assert scores.exit_code == 0, scores.output
    assert f"note: the rubric on disk is version {second}, not the published {first}" in scores.output
    published = cli.invoke(app, publish)
    assert published.exit_code == 0, published.output
    lines = published.output.splitlines()
    assert "~ 1.1a: 1 -> 2 points" in lines and "+ 1.4 (2 points, manual): Added by hand" in lines
    assert "total: 50 -> 53 points" in lines and "file changed: rubric.toml" in lines
    assert f"hw2: published rubric {second} (was {first})" in lines
    assert "grader regrade hw2 --all" in published.output  # offered, not started
    assert _published(db, klass.assignment.id) == second

    set_points(folder, "1.1b", 3)
    third = content_hash(folder)
    regraded = cli.invoke(app, [*publish, "--regrade"])
    assert regraded.exit_code == 0, regraded.output
    assert "~ 1.1b: 2 -> 3 points" in regraded.output and f"published rubric {third} (was {second})" in regraded.output
    assert f"1 submission(s) on rubric {third}" in regraded.output
    # the changed scores, as `grader regrade` prints them: the table row of the submission
    [change] = [line.split("│")[1:-1] for line in regraded.output.splitlines()
                if line.startswith("│") and line.split("│")[1].strip() == str(submission.id)]
    assert [cell.strip() for cell in change[2:]] == ["37", "39"]
    assert _published(db, klass.assignment.id) == third


def test_rubric_publish_refuses_bad_input_and_publishes_nothing(postgres_db: Session, postgres_stack: Stack) -> None:
    db = postgres_db
    rubric_id = new_version(postgres_stack.rubrics_dir)
    klass = make_class(db, rubric_id=rubric_id)
    before = klass.assignment.rubric_hash
    cli = CliRunner()
    by = ["--by", klass.instructor.email]

    unknown = cli.invoke(app, ["rubric", "publish", "hw99", "--course", klass.course.code, *by])
    assert unknown.exit_code == 2 and f"error: no assignment 'hw99' in {klass.course.code}" in unknown.output

    student = cli.invoke(app, ["rubric", "publish", "hw2", "--course", klass.course.code,
                               "--by", klass.students[0].email])
    assert student.exit_code == 2 and "only instructors" in student.output

    (postgres_stack.rubrics_dir / rubric_id / "rubric.toml").write_text("[assignment\n")
    broken = cli.invoke(app, ["rubric", "publish", "hw2", "--course", klass.course.code, *by])
    assert broken.exit_code == 2 and "error: the rubric on disk cannot be used" in broken.output
    assert _published(db, klass.assignment.id) == before
