"""The staff's pages for reading a class's answers together: the wrong answers several students
share (with feedback written once for each group), and similarity runs with their pairs.

Routes stay thin, as in grader.web.pages: parse the form, call the service, render or redirect.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from grader.db.models import User
from grader.services import answer_groups, courses, similarity
from grader.services.errors import Rejected
from grader.web.deps import Id, SessionDep, Text
from grader.web.pages import REFRESH_S, PageUser
from grader.web.rendering import redirect, render
from grader.web.session import verify_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


@router.get("/assignments/{assignment_id}/groups")
def groups_page(request: Request, assignment_id: Id, db: SessionDep, user: PageUser) -> HTMLResponse:
    """Wrong answers that several students share, with a form for each group's feedback."""
    assignment = courses.get_assignment(db, user, assignment_id)
    groups = answer_groups.wrong_answer_groups(db, user, assignment)
    return render(request, "groups.html", user, assignment=assignment, groups=groups)


def _group_key(
    question_id: Annotated[Text, Form()], case_name: Annotated[Text, Form()], function: Annotated[Text, Form()],
    signature: Annotated[Text, Form()],
) -> answer_groups.GroupKey:
    return answer_groups.GroupKey(question_id, case_name, function, signature)


GroupKeyForm = Annotated[answer_groups.GroupKey, Depends(_group_key)]  # the hidden fields of a group's form


@router.post("/assignments/{assignment_id}/groups/feedback")
def group_feedback(
    assignment_id: Id, db: SessionDep, user: PageUser, key: GroupKeyForm, text: Annotated[Text, Form()],
) -> Response:
    assignment = courses.get_assignment(db, user, assignment_id)
    answer_groups.set_group_feedback(db, user, assignment, key, text)
    return redirect(f"/assignments/{assignment_id}/groups")


@router.post("/assignments/{assignment_id}/groups/feedback/remove")
def remove_group_feedback(assignment_id: Id, db: SessionDep, user: PageUser, key: GroupKeyForm) -> Response:
    assignment = courses.get_assignment(db, user, assignment_id)
    answer_groups.clear_group_feedback(db, user, assignment, key)
    return redirect(f"/assignments/{assignment_id}/groups")


def _similarity_page(request: Request, db: SessionDep, user: User, assignment_id: int,
                     error: Rejected | None = None) -> HTMLResponse:
    assignment = courses.get_assignment(db, user, assignment_id)
    runs = similarity.runs_of(db, user, assignment)
    return render(request, "similarity.html", user, refusal=error, assignment=assignment, runs=runs,
                  default_threshold=similarity.DEFAULT_THRESHOLD)


@router.get("/assignments/{assignment_id}/similarity")
def similarity_page(request: Request, assignment_id: Id, db: SessionDep, user: PageUser) -> HTMLResponse:
    return _similarity_page(request, db, user, assignment_id)


@router.post("/assignments/{assignment_id}/similarity")
def start_similarity(
    request: Request, assignment_id: Id, db: SessionDep, user: PageUser,
    threshold: Annotated[float, Form()] = similarity.DEFAULT_THRESHOLD,
) -> Response:
    assignment = courses.get_assignment(db, user, assignment_id)
    try:
        run = similarity.start_run(db, user, assignment, threshold)
    except Rejected as exc:
        db.rollback()
        return _similarity_page(request, db, user, assignment_id, exc)
    return redirect(f"/similarity/{run.id}")


@router.get("/similarity/{run_id}")
def similarity_run_page(request: Request, run_id: Id, db: SessionDep, user: PageUser) -> HTMLResponse:
    """Progress (the page reloads itself while the run is active) and the pairs found so far."""
    run = similarity.get_run(db, user, run_id)
    progress = similarity.run_progress(db, user, run_id)
    return render(request, "similarity_run.html", user, run=run, progress=progress,
                  pairs=similarity.list_pairs(db, user, run_id),
                  refresh_s=REFRESH_S if run.status in similarity.ACTIVE_STATUSES else None)


@router.get("/similarity/pairs/{pair_id}")
def similarity_pair_page(request: Request, pair_id: Id, db: SessionDep, user: PageUser) -> HTMLResponse:
    """The two sources side by side, the shared fragments marked (the template escapes the code)."""
    return render(request, "similarity_pair.html", user, view=similarity.get_pair(db, user, pair_id))
