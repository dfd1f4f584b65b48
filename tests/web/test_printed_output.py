"""What a student's code prints reaches the student only with the questions they may see: over
HTTP, on PostgreSQL + Redis with a real Celery worker."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures.services import Stack, WorkerProcess, wait_until
from tests.service.helpers import copy_rubric, with_override
from tests.web.support import Klass, LiveServer, api

HIDDEN = "1.2.3d"  # calls attention_rnn_inf_forward; visibility = "hidden"
AFTER_DUE = "1.1c.iv"  # calls conv1d_grad_W; visibility = "after_due_date", due in a week
VISIBLE = "1.1c.i"  # calls conv1d_forward

# Prints what each function was given; the prints of the secret questions carry their inputs.
PRINTS_ITS_INPUTS = with_override("""
    _inf_forward, _grad_W, _forward = attention_rnn_inf_forward, conv1d_grad_W, conv1d_forward

    def attention_rnn_inf_forward(x, Q, K, V):
        print("HIDDEN-INPUT", x.sum().item())
        return _inf_forward(x, Q, K, V)

    def conv1d_grad_W(x, W, grad_out, stride=1):
        print("AFTER-DUE-INPUT", x.sum().item())
        return _grad_W(x, W, grad_out, stride=stride)

    def conv1d_forward(x, W, stride=1):
        print("VISIBLE-INPUT", x.shape)
        return _forward(x, W, stride=stride)

    print("IMPORTED")
""")


@pytest.fixture
def klass(postgres_stack: Stack, postgres_worker: WorkerProcess, make_klass: Callable[..., Klass]) -> Klass:
    return make_klass(postgres_stack, copy_rubric(postgres_stack.rubrics_dir, lambda _: None))


def test_a_student_sees_only_what_visible_questions_printed(postgres_server_app: LiveServer, klass: Klass) -> None:
    student = klass.students[0]
    with api(postgres_server_app, student) as alice, api(postgres_server_app, klass.instructor) as prof:
        upload = alice.post(
            f"/assignments/{klass.assignment_id}/submissions", files={"file": ("hw2.py", PRINTS_ITS_INPUTS)}
        )
        assert upload.status_code == 202
        sid = upload.json()["id"]
        wait_until(lambda: alice.get(f"/submissions/{sid}").json()["feedback"]["status"] == "graded", 90,
                   "the submission to be graded", interval=0.5)

        seen = alice.get(f"/submissions/{sid}")
        assert seen.json()["feedback"]["score"] == 37 - 3 - 5
        assert "HIDDEN-INPUT" not in seen.text and "AFTER-DUE-INPUT" not in seen.text
        shown = {q["question_id"]: q for q in seen.json()["feedback"]["questions"]}
        assert "VISIBLE-INPUT" in shown[VISIBLE]["printed"]
        assert seen.json()["feedback"]["student_output"].strip() == "IMPORTED"

        full = {q["question_id"]: q for q in prof.get(f"/submissions/{sid}").json()["feedback"]["questions"]}
        assert "HIDDEN-INPUT" in full[HIDDEN]["printed"] and "AFTER-DUE-INPUT" in full[AFTER_DUE]["printed"]
        assert "HIDDEN-INPUT" not in full[AFTER_DUE]["printed"] + full[VISIBLE]["printed"]
