"""What a rubric author imports: the question marker, checks and gradient references."""

import pytest

from grader.rubric.autograd import finite_difference_jacobian, jacobian, randn, vjp
from grader.rubric.checks import (
    CheckFailure,
    check_close,
    check_float,
    check_int,
    check_pair,
    check_shape,
    check_tuple_of_ints,
)
from grader.rubric.misconceptions import misconception


def question(question_id: str, *, weight: float = 1) -> pytest.MarkDecorator:
    """`@question("1.1a")` ties a test (all its parametrized cases) to a rubric question. Each case
    earns the question's points times its `weight` over the sum of the weights of all the
    question's cases (so by default they share evenly): a shape test of weight 1 next to a value
    test of weight 3 is worth a quarter of the question."""
    return pytest.mark.question(question_id, weight=weight)


__all__ = [
    "CheckFailure",
    "check_close",
    "check_float",
    "check_int",
    "check_pair",
    "check_shape",
    "check_tuple_of_ints",
    "finite_difference_jacobian",
    "jacobian",
    "misconception",
    "question",
    "randn",
    "vjp",
]
