"""1.3.4 The loss and accuracy of an untrained classifier that predicts uniformly over C classes."""

from __future__ import annotations

import math

import pytest

from grader.rubric import check_float, question

CLASSES = [pytest.param(10, id="C10"), pytest.param(1000, id="C1000")]


@question("1.3.4")
@pytest.mark.parametrize("num_classes", CLASSES)
def test_initial_loss(student, num_classes: int) -> None:
    check_float(student.initial_loss(num_classes), math.log(num_classes), name="initial_loss()")


@question("1.3.4")
@pytest.mark.parametrize("num_classes", CLASSES)
def test_initial_accuracy(student, num_classes: int) -> None:
    check_float(student.initial_accuracy(num_classes), 1 / num_classes, name="initial_accuracy()")
