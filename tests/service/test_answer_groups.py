"""Wrong-answer groups on PostgreSQL with a real worker: equal wrong answers of several students
group together with the known mistake they match, a regrade moves the groups to the new runs,
and an instructor's feedback for a group reaches exactly the students in it (later ones too),
only under questions they may see."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from grader.db.base import utcnow
from grader.db.models import CountingRule, Submission, User
from grader.services import choices, publishing, regrades, roster, submissions
from grader.services.answer_groups import AnswerGroup, GroupKey, set_group_feedback, wrong_answer_groups
from grader.services.errors import Forbidden, NotFound, Rejected
from harness.samples import PATCHES, submission_source
from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.service.helpers import copy_rubric, make_class, upload, wait_finished

TIMEOUT_S = 240


def sample(name: str) -> bytes:
    return submission_source(name)[1].encode()


NO_PADDING = sample("buggy_conv_size_no_padding")  # conv_output_size forgets P, in correct_vectorised
# The same mistake in another student's style: the patch on the loops solution.
NO_PADDING_LOOPS = (submission_source("correct_loops")[1] + "\n\n"
                    + (PATCHES / "buggy_conv_size_no_padding.py").read_text()).encode()
NO_DILATION = sample("buggy_conv_size_no_dilation")  # another mistake in the same question, 1.1b
GRAD_W_ONES = sample("buggy_grad_W_ones")  # wrong in 1.1c.iv, shown to students only after the due date
CORRECT = sample("correct_vectorised")
PADDING_NOTE = "Padding adds P zeros at both ends: count them in the length the kernel slides over."
SECRET_NOTE = "Each window is weighted by the upstream gradient at its position."


def emails(group: AnswerGroup) -> set[str]:
    return {member.student.email for member in group.members}


def groups_with(groups: list[AnswerGroup], student: User) -> list[AnswerGroup]:
    return [g for g in groups if student.email in emails(g)]


def notes(db: Session, submission: Submission, viewer: User) -> dict[str, tuple[str, ...]]:
    """question id -> the group feedback the viewer sees on the submission's page."""
    db.expire_all()
    return {q.question_id: q.group_feedback for q in submissions.feedback(db, submission, viewer).questions
            if q.group_feedback}


def wait_for_regrade(db: Session, viewer: User, batch_id: int) -> None:
    def finished() -> bool:
        db.rollback()
        return regrades.regrade_progress(db, viewer, batch_id)["status"] == "finished"

    wait_until(finished, TIMEOUT_S, f"regrade {batch_id} to finish", interval=0.5)


def test_equal_wrong_answers_group_and_their_feedback_reaches_the_group(
    postgres_db: Session, postgres_stack: Stack, postgres_worker: WorkerProcess
) -> None:
    db = postgres_db
    rubric_id = copy_rubric(postgres_stack.rubrics_dir, lambda folder: None)
    klass = make_class(db, students=5, rubric_id=rubric_id, due_at=utcnow() + timedelta(days=7))
    ana, ben, cy, dee, eve = klass.students
    prof, hw = klass.instructor, klass.assignment
    sent = {ana: NO_PADDING, ben: NO_PADDING_LOOPS, cy: NO_DILATION, dee: CORRECT, eve: GRAD_W_ONES}
    latest = {student: upload(db, student, hw, data) for student, data in sent.items()}
    assert set(wait_finished(db, [s.id for s in latest.values()], TIMEOUT_S).values()) == {"graded"}

    groups = wrong_answer_groups(db, prof, hw)
    assert [g.size for g in groups] == sorted((g.size for g in groups), reverse=True)
    padding = [g for g in groups if g.key.function == "conv_output_size" and g.misconception == "size-no-padding"]
    assert padding, [(g.key, g.misconception) for g in groups]
    # One mistake in two styles: every wrong answer of either student is the other's too, and named.
    assert groups_with(groups, ana) == groups_with(groups, ben)
    assert all(emails(g) == {ana.email, ben.email} and g.key.question_id == "1.1b" for g in groups_with(groups, ana))
    assert {g.misconception for g in groups_with(groups, ana)} == {"size-no-padding", "shape-no-padding"}
    assert {g.misconception for g in groups_with(groups, cy)} == {"size-no-dilation", "shape-no-dilation"}
    assert all(emails(g) == {cy.email} for g in groups_with(groups, cy))
    assert {(g.key.question_id, g.misconception) for g in groups_with(groups, eve)} == {
        ("1.1c.iv", "grad-W-ones-upstream")}
    assert groups_with(groups, dee) == []
    assert all(g.example_submission_id in {m.submission_id for m in g.members} for g in groups)

    with pytest.raises(Forbidden):
        wrong_answer_groups(db, ana, hw)
    key = padding[0].key
    with pytest.raises(Forbidden):
        set_group_feedback(db, ana, hw, key, "ask me")
    with pytest.raises(Rejected):
        set_group_feedback(db, prof, hw, key, "   ")
    with pytest.raises(NotFound):
        set_group_feedback(db, prof, hw, GroupKey(key.question_id, key.case_name, key.function, "0" * 16), "x")
    db.rollback()
    ta = roster.enrol(db, prof, hw.course, f"ta-{uuid.uuid4().hex[:8]}@test.edu", "ta", "Tara Assistant").user
    assert [g.key for g in wrong_answer_groups(db, ta, hw)] == [g.key for g in groups]  # TAs see everyone's work
    assert set_group_feedback(db, ta, hw, key, "a TA's draft").author_id == ta.id  # and grade: they write feedback
    set_group_feedback(db, prof, hw, key, PADDING_NOTE)
    secret = groups_with(groups, eve)[0]
    set_group_feedback(db, prof, hw, secret.key, SECRET_NOTE)
    db.commit()

    # Shown to the group's students under the question, to nobody else; a secret question's only later.
    assert notes(db, latest[ana], ana) == notes(db, latest[ben], ben) == {"1.1b": (PADDING_NOTE,)}
    assert notes(db, latest[ana], prof) == {"1.1b": (PADDING_NOTE,)}
    assert notes(db, latest[cy], cy) == notes(db, latest[dee], dee) == {}
    assert notes(db, latest[eve], eve) == {}  # 1.1c.iv is not shown before the due date
    assert notes(db, latest[eve], prof) == {"1.1c.iv": (SECRET_NOTE,)}

    # A later submission with the same mistake lands in the group and gets its feedback.
    again = upload(db, dee, hw, NO_PADDING)
    assert wait_finished(db, [again.id], TIMEOUT_S) == {again.id: "graded"}
    groups = wrong_answer_groups(db, prof, hw)
    [noted] = [g for g in groups if g.key == key]
    assert emails(noted) == {ana.email, ben.email, dee.email} and noted.feedback is not None
    assert noted.feedback.text == PADDING_NOTE and noted.feedback.author_id == prof.id
    assert notes(db, again, dee) == {"1.1b": (PADDING_NOTE,)}
    assert notes(db, latest[dee], dee) == {}  # the correct one it replaced
    latest[dee] = again

    hw.due_at = utcnow() - timedelta(hours=1)
    db.commit()
    assert notes(db, latest[eve], eve) == {"1.1c.iv": (SECRET_NOTE,)}

    # A regrade on a rubric that renames the mistake moves every group to the new runs.
    misconceptions = postgres_stack.rubrics_dir / rubric_id / "misconceptions.py"
    misconceptions.write_text(misconceptions.read_text().replace('id="size-no-padding"', 'id="padding-forgotten"'))
    publishing.publish(db, prof, hw)
    batch = regrades.start_regrade(db, prof, hw, "renamed a mistake", [s.id for s in latest.values()])
    db.commit()
    wait_for_regrade(db, prof, batch.id)
    db.expire_all()
    regraded = wrong_answer_groups(db, prof, hw)
    assert {g.key for g in regraded} == {g.key for g in groups}  # the same answers: no group lost or doubled
    assert [(g.key, g.size) for g in regraded] == [(g.key, g.size) for g in groups]
    renamed = {g.key: g.misconception for g in groups_with(regraded, ana) if g.key.function == "conv_output_size"}
    assert renamed and set(renamed.values()) == {"padding-forgotten"}
    assert notes(db, latest[ben], ben) == {"1.1b": (PADDING_NOTE,)}


def test_groups_are_over_the_submission_that_counts(
    postgres_db: Session, postgres_worker: WorkerProcess
) -> None:
    """The staff group the answers they grade: with `best`, a student's better earlier submission
    (not a worse later one); with `chosen`, the one the student marked."""
    db = postgres_db
    klass = make_class(db, students=2, counts=CountingRule.best)
    ana, cy = klass.students
    prof, hw = klass.instructor, klass.assignment
    sent = [upload(db, ana, hw, CORRECT), upload(db, ana, hw, NO_PADDING),
            upload(db, cy, hw, NO_DILATION), upload(db, cy, hw, CORRECT)]
    assert set(wait_finished(db, [s.id for s in sent], TIMEOUT_S).values()) == {"graded"}
    groups = wrong_answer_groups(db, prof, hw)
    assert groups_with(groups, ana) == []  # her correct first upload counts
    assert groups_with(groups, cy) == []

    hw.counts = CountingRule.chosen
    choices.choose(db, cy, sent[2])
    db.commit()
    groups = wrong_answer_groups(db, prof, hw)
    # Ana marked none: her newest counts.
    assert {g.misconception for g in groups_with(groups, ana)} == {"size-no-padding", "shape-no-padding"}
    assert {g.misconception for g in groups_with(groups, cy)} == {"size-no-dilation", "shape-no-dilation"}
    assert {m.submission_id for g in groups for m in g.members} == {sent[1].id, sent[2].id}
