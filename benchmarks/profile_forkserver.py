"""Fork servers with a prelude run before they serve: one that times every step of a sandbox's start
(isolation layers, cgroup, fork), and one that pre-imports sympy, graded A/B against the stock one."""

from __future__ import annotations

import collections
import json
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.population import Submission, spread_templates
from benchmarks.stats import to_ms
from grader.engine import Engine
from grader.rubric_spec import Rubric


def custom_fork_server(prelude: str) -> Any:
    """A stock ForkServer whose server process first runs `prelude` (extra imports, or timers
    wrapped around the sandbox's steps): ForkServer's own __init__, with `python -m
    grader.sandbox.forkserver` swapped for `python -c <prelude + the same entry point>`."""
    from grader.sandbox import forkserver

    code = prelude + "\nimport sys\nfrom grader.sandbox import forkserver\nforkserver.serve(int(sys.argv[1]))\n"
    original = forkserver.subprocess.Popen

    def popen(args: list[str], *rest: Any, **kwargs: Any) -> Any:
        args = list(args)
        if args[1:3] != ["-m", "grader.sandbox.forkserver"]:
            raise RuntimeError(f"the fork server is started differently now: {args}")
        return original([args[0], "-c", code, *args[3:]], *rest, **kwargs)

    forkserver.subprocess.Popen = popen  # type: ignore[misc]
    try:
        return forkserver.ForkServer()
    finally:
        forkserver.subprocess.Popen = original  # type: ignore[misc]


# Runs in the fork server before it serves: every step of a sandbox's start is timed, and the child
# prints the timings (to its output file, which the report carries) just before importing the student.
TIMED_PRELUDE = """
import json, os, time
from grader.sandbox import child, forkserver, limits
_T = {}
def _timed(owner, name, key):
    original = getattr(owner, name, None)
    if original is None:
        return
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _T[key] = _T.get(key, 0.0) + time.perf_counter() - started
    setattr(owner, name, wrapper)
_original_spawn = forkserver._Server._spawn
def _spawn(self, *args, **kwargs):
    _T.clear()
    _T["t_spawn"] = time.perf_counter()
    return _original_spawn(self, *args, **kwargs)
forkserver._Server._spawn = _spawn
_timed(limits.CgroupManager, "create", "server: cgroup create")
_original_fork = os.fork
def _fork():
    _T["t_fork"] = time.perf_counter()
    _T["server: spawn request -> fork"] = _T["t_fork"] - _T["t_spawn"]
    return _original_fork()
os.fork = _fork
_original_main = child.main
def _main(*args, **kwargs):
    _T["child: fork -> running"] = time.perf_counter() - _T["t_fork"]
    _T["t_main"] = time.perf_counter()
    return _original_main(*args, **kwargs)
child.main = _main
_timed(child, "isolate", "child: isolate (all layers)")
_timed(limits.SandboxCgroup, "enter", "child: cgroup enter")
_timed(child, "_redirect_output", "child: redirect output")
_timed(child, "_scrub_environment", "child: scrub environment")
_timed(child, "apply_rlimits", "child: rlimits")
_timed(child, "_drop_privileges", "child: setuid")
_timed(child.landlock, "restrict", "child: landlock")
_timed(child.seccomp, "install", "child: seccomp")
_original_import = child.import_student
def _import(*args, **kwargs):
    _T["child: main -> import"] = time.perf_counter() - _T["t_main"]
    shown = {k: round(v * 1000, 3) for k, v in _T.items() if not k.startswith("t_")}
    print("BENCH_ISOLATION=" + json.dumps(shown), flush=True)
    return _original_import(*args, **kwargs)
child.import_student = _import
"""


def isolation_breakdown(population: list[Submission], rubric: Rubric, runs: int) -> dict:
    """Each step of a sandbox's start (ms, means over `runs` grades), from a fork server whose steps
    are timed (the same code, wrapped), against the stock server's sandbox start."""
    engine = Engine()
    try:
        engine._server = custom_fork_server(TIMED_PRELUDE)
        chosen = spread_templates([s for s in population if not s.hostile and s.filename.endswith(".py")], runs)
        engine.grade(chosen[0].data, chosen[0].filename, rubric)
        steps: dict[str, list[float]] = collections.defaultdict(list)
        for submission in chosen:
            report = engine.grade(submission.data, submission.filename, rubric)
            for match in re.findall(r"BENCH_ISOLATION=(\{.*\})", report.all_printed):
                for key, value in json.loads(match).items():
                    steps[key].append(value)
        return {key: round(statistics.mean(values), 2) for key, values in sorted(steps.items())} | {
            "grades": len(chosen)}
    finally:
        engine.close()


def what_if_warm_sympy(population: list[Submission], rubric: Rubric, rounds: int,
                       progress: Callable[[str], None]) -> dict | None:
    """Autograd-style submissions graded with the stock fork server and with one that imported
    sympy (via torch.fx.experimental.symbolic_shapes) before forking: A/B, interleaved."""
    chosen = [s for s in population if not s.hostile and "autograd" in s.data.decode(errors="replace")
              and "vjp" in s.data.decode(errors="replace")]
    chosen = spread_templates(chosen, 3)
    if not chosen:
        return None
    stock, warmer = Engine(), Engine()
    try:
        warmer._server = custom_fork_server("from grader.sandbox import forkserver\nforkserver._warm_up()\n"
                                           "import torch.fx.experimental.symbolic_shapes\n")
        for engine in (stock, warmer):
            engine.grade(chosen[0].data, chosen[0].filename, rubric)
        times: dict[str, list[float]] = {"stock": [], "sympy_preimported": []}
        for _ in range(rounds):
            for submission in chosen:
                for key, engine in (("stock", stock), ("sympy_preimported", warmer)):
                    started = time.perf_counter()
                    engine.grade(submission.data, submission.filename, rubric)
                    times[key].append(time.perf_counter() - started)
        result = {k: {"p50_ms": to_ms(statistics.median(v)), "mean_ms": to_ms(statistics.mean(v)), "n": len(v)}
                  for k, v in times.items()}
        result["saving_p50_ms"] = to_ms(statistics.median(times["stock"]) - statistics.median(times["sympy_preimported"]))
        result["submissions"] = [s.template for s in chosen]
        progress(f"what-if sympy pre-imported in the fork server: p50 {result['stock']['p50_ms']} -> "
                 f"{result['sympy_preimported']['p50_ms']} ms on {', '.join(result['submissions'])}")
        return result
    finally:
        stock.close()
        warmer.close()
