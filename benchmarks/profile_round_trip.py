"""Per-call cost of the sandbox proxy with nothing to compute, and of an empty sandbox's start and
close: the fixed price every student call and every grade pays."""

from __future__ import annotations

import statistics
import time

from benchmarks.stats import to_ms
from grader.engine import Engine
from grader.rubric_spec import Rubric


ROUND_TRIP_SOURCE = '''
import torch


def nothing():
    return 0


def echo(x, W):
    return x
'''


def round_trip(engine: Engine, rubric: Rubric, n: int = 300) -> dict:
    """Per-call cost of the proxy with nothing to compute: a bare call, and one carrying tensors."""
    import torch

    from grader.rubric import randn
    from grader.sandbox.proxy import StudentModule

    box = engine._sandbox(ROUND_TRIP_SOURCE, "student", rubric.limits, "cpu")
    try:
        student = StudentModule(box)
        student.nothing()
        x, W = randn(1, 5, 7), randn(2, 1, 5, 3)
        timings = {}
        for name, call in (("bare_call", lambda: student.nothing()),
                           ("tensor_call_5x7_and_1x5x3", lambda: student.echo(x, W))):
            times = []
            for _ in range(n):
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
            timings[name + "_ms"] = {"p50": to_ms(statistics.median(times)), "mean": to_ms(statistics.mean(times))}
        started = time.perf_counter()
        box2 = engine._sandbox(ROUND_TRIP_SOURCE, "student", rubric.limits, "cpu")
        StudentModule(box2).nothing()
        timings["empty_sandbox_start_and_first_call_ms"] = to_ms(time.perf_counter() - started)
        started = time.perf_counter()
        box2.close()
        timings["empty_sandbox_close_ms"] = to_ms(time.perf_counter() - started)
        del torch
        return timings
    finally:
        box.close()
