"""What a student is shown of a run never turns on the questions hidden from them: the one failure
said at the top of their page is found among the checks they may see. The test plays the worker."""

from __future__ import annotations

from sqlalchemy.orm import Session

from grader.services import claims, results, submissions
from grader.services.rubrics import on_disk
from tests.service.helpers import make_class, report_failing, upload

HIDDEN_QUESTION = "1.2.3d"  # rubrics/hw2: hidden from students


def test_the_failure_that_stopped_every_check_a_student_sees_does_not_turn_on_a_hidden_one(quiet_db: Session) -> None:
    db = quiet_db
    klass = make_class(db)
    [student] = klass.students
    every = [q.id for q in on_disk("hw2").auto_questions]
    shown = []
    for failing in (every, [q for q in every if q != HIDDEN_QUESTION]):  # the hidden one failed, then passed
        submission = upload(db, student, klass.assignment)
        claim = claims.claim(db, submission.id, klass.assignment.rubric_hash, "cpu", "feedback-test")
        assert claim is not None and results.record_result(db, claim, report_failing(*failing))
        db.commit()
        feedback = submissions.feedback(db, submission, student)
        shown.append((feedback.error, [(q.question_id, q.feedback) for q in feedback.questions]))
        assert HIDDEN_QUESTION not in {q.question_id for q in feedback.questions}
    assert shown[0] == shown[1]
    assert shown[0][0] == "wrong"  # every check the student sees failed with it: said once, at the top
    staff = submissions.feedback(db, submission, klass.instructor)
    assert staff.error is None  # the staff see the hidden question pass: no single failure stopped everything
