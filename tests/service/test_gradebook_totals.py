"""The gradebook's totals are over graded submissions: one that counts but is still queued (a
deadline rush) or failed to grade has no total yet, in the table, the CSV and the totals' mean and
histogram, rather than a 0 that pulls them down. The test plays the worker."""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session

from grader.services import claims, gradebook, manual_grades, results
from tests.service.helpers import make_class, report_with_wrong_answer, upload


def test_a_submission_not_graded_yet_has_no_total_and_is_left_out_of_the_totals(quiet_db: Session) -> None:
    db = quiet_db
    klass = make_class(db, students=3)
    graded_student, waiting_student, absent_student = klass.students
    graded = upload(db, graded_student, klass.assignment)
    claim = claims.claim(db, graded.id, klass.assignment.rubric_hash, "cpu", "totals-test")
    assert claim is not None and results.record_result(db, claim, report_with_wrong_answer("7"))
    waiting = upload(db, waiting_student, klass.assignment)  # no worker reads this queue: it stays queued

    book = gradebook.gradebook(db, klass.instructor, klass.assignment)
    rows = {row.student.id: row for row in book.rows}
    total = rows[graded_student.id].total
    assert total is not None and 30 < total < book.max_score  # one case of 1.1b failed
    assert (rows[waiting_student.id].submission_id, rows[waiting_student.id].total) == (waiting.id, None)
    assert (rows[absent_student.id].submission_id, rows[absent_student.id].total) == (None, None)

    totals = gradebook.total_stats(book)
    assert totals.mean == total and sum(totals.histogram) == 1

    header, _points, *lines = list(csv.reader(io.StringIO(gradebook.gradebook_csv(book))))
    exported = {line[3]: dict(zip(header, line, strict=True)) for line in lines}  # by SIS login: the email
    assert exported[graded_student.email]["hw2 raw total"] == f"{total:g}"
    assert exported[waiting_student.email]["hw2 raw total"] == exported[absent_student.email]["hw2 raw total"] == ""


def test_a_hand_grade_carried_from_an_earlier_submission_gives_no_total_to_one_not_graded_yet(
    quiet_db: Session,
) -> None:
    """The resubmission that counts is still queued: the hand grade its predecessor carries is
    shown beside it, but it is not a total (4 of 50 in the Canvas export, pulling the mean down)."""
    db = quiet_db
    klass = make_class(db, students=2)
    student, other = klass.students
    first = upload(db, student, klass.assignment)
    claim = claims.claim(db, first.id, klass.assignment.rubric_hash, "cpu", "totals-test")
    assert claim is not None and results.record_result(db, claim, report_with_wrong_answer("7"))
    manual_grades.set_manual_grade(db, klass.instructor, first, "1.2.1a", 4)
    graded = upload(db, other, klass.assignment)
    claim = claims.claim(db, graded.id, klass.assignment.rubric_hash, "cpu", "totals-test")
    assert claim is not None and results.record_result(db, claim, report_with_wrong_answer("7"))
    waiting = upload(db, student, klass.assignment)  # counts (the latest), stays queued

    book = gradebook.gradebook(db, klass.instructor, klass.assignment)
    rows = {row.student.id: row for row in book.rows}
    assert rows[student.id].submission_id == waiting.id
    assert (rows[student.id].total, rows[student.id].credited_total) == (None, None)
    other_total = rows[other.id].total
    totals = gradebook.total_stats(book)
    assert totals.mean == other_total and sum(totals.histogram) == 1

    header, _points, *lines = list(csv.reader(io.StringIO(gradebook.gradebook_csv(book, totals_only=True))))
    assert [line[-1] for line in lines if student.email in line] == [""]

    claims.fail_request(db, waiting.id, waiting.request_no, "the machine broke")  # failed for good: the same
    db.expire_all()
    book = gradebook.gradebook(db, klass.instructor, klass.assignment)
    row = next(r for r in book.rows if r.student.id == student.id)
    assert (row.submission_id, row.total, row.credited_total) == (waiting.id, None, None)
