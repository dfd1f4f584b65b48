"""Where an engine grade's time goes beyond the floor, measured without editing grader/.

- Breakdown: the engine's sandbox, proxy and fork-server methods are wrapped with timers in this
  process, and each submission is a *timing probe* (the student's file with a few lines added that
  print, from inside the sandbox, when its import started and ended, how long its functions ran,
  and which modules it imported after the fork). Each probe is also graded in-process (the floor),
  so every component is set against its in-process counterpart.
- Round trip: a trivial call and a call with tensors, many times, through one sandbox.
- What-if: the same autograd submissions graded by a fork server that imported
  `torch.fx.experimental.symbolic_shapes` (sympy) before forking, against the stock one.
- py-spy (if installed): samples of this process (all threads), its fork server and the sandboxes,
  as collapsed stacks in a file, summarized per function.

Each part has its module: profile_probe (the probe's added lines), profile_breakdown (timers and
summary), profile_round_trip, profile_forkserver (timed sandbox-start steps, the sympy what-if),
profile_py_spy and profile_threads (the one-torch-thread what-if); this one runs them in order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.population import Submission
from benchmarks.profile_breakdown import breakdown
from benchmarks.profile_forkserver import isolation_breakdown, what_if_warm_sympy
from benchmarks.profile_py_spy import py_spy_profile
from benchmarks.profile_round_trip import round_trip
from benchmarks.profile_threads import what_if_one_torch_thread
from grader.engine import Engine
from grader.rubric_spec import Rubric


def run_profile(engine: Engine, population: list[Submission], rubric: Rubric, out_dir: Path, sample: int,
                progress: Callable[[str], None], workers: int = 2) -> dict:
    """Every part of the profile; a part that fails is recorded as skipped, since the profile is an aid."""
    result: dict[str, Any] = {}
    result["breakdown"] = breakdown(engine, population, rubric, sample, progress)
    try:
        result["round_trip"] = round_trip(engine, rubric)
        progress(f"profile: round trip {result['round_trip']}")
    except Exception as exc:  # noqa: BLE001
        result["round_trip"] = {"skipped": f"failed: {type(exc).__name__}: {exc}"}
    try:
        result["isolation_steps_ms"] = isolation_breakdown(population, rubric, min(sample, 6))
        progress(f"profile: sandbox start steps (ms) {result['isolation_steps_ms']}")
    except Exception as exc:  # noqa: BLE001
        result["isolation_steps_ms"] = {"skipped": f"failed: {type(exc).__name__}: {exc}"}
    try:
        result["what_if_sympy_in_fork_server"] = what_if_warm_sympy(population, rubric, 3, progress)
    except Exception as exc:  # noqa: BLE001
        result["what_if_sympy_in_fork_server"] = {"skipped": f"failed: {type(exc).__name__}: {exc}"}
    try:
        result["py_spy"] = py_spy_profile(engine, population, rubric, min(sample, 8), out_dir / "profile_py_spy.txt")
    except Exception as exc:  # noqa: BLE001 - the profile is an aid, not a figure
        result["py_spy"] = {"skipped": f"failed: {type(exc).__name__}: {exc}"}
    try:
        result["what_if_one_torch_thread"] = what_if_one_torch_thread(population, rubric, workers, 20, progress)
    except Exception as exc:  # noqa: BLE001
        result["what_if_one_torch_thread"] = {"skipped": f"failed: {type(exc).__name__}: {exc}"}
    result["pid"] = os.getpid()
    return result
