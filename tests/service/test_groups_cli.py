"""`grader groups`: the wrong-answer groups of an assignment from the command line, for its
instructors and admins only. The test plays the worker (claim, then record a report whose failed
case carries signatures), so it runs on PostgreSQL and SQLite alike."""

from __future__ import annotations

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from grader.cli_analysis import app as service_cli
from grader.services import claims, results, users
from grader.services.answer_groups import set_group_feedback
from tests.service.helpers import (
    NO_PADDING,
    PADDING_CASE,
    make_class,
    padding_group,
    report_with_wrong_answer,
    upload,
)

SHARED, ALONE = "a6abe6506e94a095", "155b24bd53bf6ca0"


def test_the_groups_command_lists_groups_for_instructors_only(quiet_db: Session) -> None:
    db = quiet_db
    klass = make_class(db, students=3)
    users.create_user(db, f"root-{klass.course.code}@test.edu", "Root", "admin")
    db.commit()
    answers = [(SHARED, (NO_PADDING,)), (SHARED, (NO_PADDING,)), (ALONE, ())]
    for student, (signature, mistakes) in zip(klass.students, answers, strict=True):
        submission = upload(db, student, klass.assignment)
        claim = claims.claim(db, submission.id, klass.assignment.rubric_hash, "cpu", "cli-test")
        assert claim is not None and results.record_result(db, claim, report_with_wrong_answer(signature, mistakes))
    set_group_feedback(db, klass.instructor, klass.assignment, padding_group(SHARED), "P zeros on both ends")
    db.commit()
    shared, alone = sorted(s.email for s in klass.students[:2]), klass.students[2].email
    where = f"1.1b · {PADDING_CASE} · conv_output_size()"
    cli = CliRunner()

    for by in ([], ["--by", klass.instructor.email]):
        listed = cli.invoke(service_cli, ["groups", "hw2", "--course", klass.course.code, *by])
        assert listed.exit_code == 0, listed.output
        assert "hw2: 2 wrong-answer group(s)" in listed.output
        first, second = listed.output.split("\n\n")[1:]
        assert first.startswith(f"2 student(s) · {where} · size-no-padding · answer {SHARED}")
        assert f"students: {', '.join(shared)}" in first and "feedback: P zeros on both ends" in first
        assert second.startswith(f"1 student(s) · {where} · unnamed · answer {ALONE}")
        assert f"students: {alone}" in second and "feedback: -" in second

    refused = cli.invoke(service_cli, ["groups", "hw2", "--course", klass.course.code, "--by", alone])
    assert refused.exit_code == 2 and "error: only instructors" in refused.output
    assert shared[0] not in refused.output
    unknown = cli.invoke(service_cli, ["groups", "hw9", "--course", klass.course.code])
    assert unknown.exit_code == 2 and "error: no assignment 'hw9'" in unknown.output
