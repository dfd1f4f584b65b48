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

question = pytest.mark.question
"""`@question("1.1a")` ties a test (all its parametrized cases) to a rubric question."""

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
    "question",
    "randn",
    "vjp",
]
