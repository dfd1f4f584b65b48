"""The instructor's gradebook of an assignment: JSON with statistics, or a Canvas CSV."""

from __future__ import annotations

from fastapi import APIRouter, Response

from grader.api.docs import errors
from grader.api.schemas.gradebook import (
    GradebookPublic,
    GradebookQuestionPublic,
    GradebookRowPublic,
    QuestionStatsPublic,
)
from grader.services import courses, gradebook
from grader.web.deps import CurrentUser, Id, SessionDep

router = APIRouter(prefix="/assignments/{assignment_id}", tags=["gradebook"], responses=errors(
    401, 403, 404, 409, meaning={409: "the published rubric version cannot be read (the message says how to publish)"}))


@router.get("/gradebook", response_model=GradebookPublic)
def get_gradebook(assignment_id: Id, db: SessionDep, user: CurrentUser) -> GradebookPublic:
    """Every enrolled student's submission that counts, scored per question, late by how much and
    credited, with per-question stats."""
    book = gradebook.gradebook(db, user, courses.get_assignment(db, user, assignment_id))
    return GradebookPublic(
        assignment_id=assignment_id,
        rubric_hash=book.rubric_hash,
        max_score=book.max_score,
        questions=[GradebookQuestionPublic.model_validate(q) for q in book.questions],
        rows=[GradebookRowPublic.model_validate(row) for row in book.rows],
        stats=[QuestionStatsPublic.model_validate(s) for s in gradebook.question_stats(book)],
    )


@router.get(
    "/gradebook.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "Canvas-importable gradebook"}, **errors(422)},
)
def get_gradebook_csv(assignment_id: Id, db: SessionDep, user: CurrentUser, totals: bool = False) -> Response:
    """Per question with the raw total, lateness and credit; `totals=true`: only the credited total,
    which Canvas imports as one assignment column."""
    assignment = courses.get_assignment(db, user, assignment_id)
    csv_text = gradebook.gradebook_csv(gradebook.gradebook(db, user, assignment), totals_only=totals)
    filename = f"{assignment.slug}-{'totals' if totals else 'gradebook'}.csv"
    return Response(
        csv_text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
