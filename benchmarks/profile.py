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
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.floor import SHARED_TIMER, floor_once, pytest_extras
from benchmarks.population import Submission
from benchmarks.stats import mean
from grader.engine import Engine
from grader.rubric.spec import Rubric
from grader.submission import prepare_source

PROBE_HEAD = '''import sys as _bench_sys, time as _bench_clock
print("BENCH_IMPORT_START=%r" % _bench_clock.time(), flush=True)
'''

PROBE_TAIL = '''

# --- appended by the benchmark's profile: time this module's functions inside the sandbox ---
import functools as _bench_functools

_BENCH = {"calls": 0, "compute": 0.0, "depth": 0, "modules": set(_bench_sys.modules)}
print("BENCH_IMPORT_END=%r" % _bench_clock.time(), flush=True)


def _bench_wrap(function):
    @_bench_functools.wraps(function)
    def wrapper(*args, **kwargs):
        outer = _BENCH["depth"] == 0
        _BENCH["depth"] += 1
        started = _bench_clock.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _BENCH["depth"] -= 1
            if outer:
                took = _bench_clock.perf_counter() - started
                _BENCH["calls"] += 1
                _BENCH["compute"] += took
                if len(_bench_sys.modules) != len(_BENCH["modules"]):
                    new = sorted({m.split(".")[0] for m in set(_bench_sys.modules) - _BENCH["modules"]})
                    _BENCH["modules"] = set(_bench_sys.modules)
                    print("BENCH_NEW_MODULES fn=%s took=%.4f mods=%s" % (function.__name__, took, ",".join(new)[:300]), flush=True)
                print("BENCH_CALLS=%d,%.6f" % (_BENCH["calls"], _BENCH["compute"]), flush=True)
    return wrapper


for _bench_name, _bench_value in list(globals().items()):
    if callable(_bench_value) and not _bench_name.startswith("_") and getattr(_bench_value, "__module__", None) == __name__:
        globals()[_bench_name] = _bench_wrap(_bench_value)
'''


def timing_probe(submission: Submission) -> Submission:
    """The submission as a .py file that reports its own timings from inside the sandbox."""
    source = submission.tame_source or prepare_source(submission.filename, submission.data)
    data = (PROBE_HEAD + source + PROBE_TAIL).encode()
    return Submission(submission.index, submission.name, submission.category, submission.template, "hw2.py", data,
                      submission.expected_score)


def parse_probe(output: str) -> dict:
    found: dict[str, Any] = {"new_modules": []}
    for key in ("BENCH_IMPORT_START", "BENCH_IMPORT_END"):
        match = re.findall(key + r"=([0-9.]+)", output)
        if match:
            found[key] = float(match[0])
    calls = re.findall(r"BENCH_CALLS=(\d+),([0-9.]+)", output)
    if calls:
        found["calls"], found["compute_s"] = int(calls[-1][0]), float(calls[-1][1])
    for fn, took, mods in re.findall(r"BENCH_NEW_MODULES fn=(\S+) took=([0-9.]+) mods=(\S*)", output):
        found["new_modules"].append({"function": fn, "call_s": float(took), "modules": mods.split(",")})
    return found


class Timers:
    """Wall time (and count) of wrapped functions, plus timestamps of the sandbox starts."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.count: dict[str, int] = collections.defaultdict(int)
        self.marks: list[tuple[str, float]] = []

    def reset(self) -> None:
        self.seconds.clear()
        self.count.clear()
        self.marks.clear()


@contextmanager
def instrumented(timers: Timers) -> Iterator[None]:
    """Wrap the engine's sandbox internals with timers for the block (the classes are restored)."""
    import grader.sandbox.forkserver as forkserver
    import grader.sandbox.proxy as proxy

    patched: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, key: str, mark: bool = False) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            if mark:
                timers.marks.append((key + ":start", time.time()))
            try:
                return original(*args, **kwargs)
            finally:
                timers.seconds[key] += time.perf_counter() - started
                timers.count[key] += 1
                if mark:
                    timers.marks.append((key + ":end", time.time()))

        patched.append((owner, name, original))
        setattr(owner, name, wrapper)

    wrap(proxy.SubmissionSandbox, "__init__", "submission_dir")
    wrap(proxy.SubmissionSandbox, "_start", "sandbox_start_total")
    wrap(proxy.Sandbox, "__init__", "sandbox_init", mark=True)
    wrap(forkserver.ForkServer, "spawn", "fork_server_spawn", mark=True)
    wrap(proxy.Sandbox, "call", "calls")
    wrap(proxy.SubmissionSandbox, "close", "teardown")
    wrap(proxy, "encode", "parent_encode")
    wrap(proxy, "decode", "parent_decode")
    try:
        yield
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


def breakdown(engine: Engine, population: list[Submission], rubric: Rubric, sample: int,
              progress: Callable[[str], None]) -> dict:
    """Per-component times (ms, means over the sample) of engine grades and their floors."""
    chosen = _spread([s for s in population if not s.hostile], sample)
    probes = [timing_probe(s) for s in chosen]
    timer, timers = SHARED_TIMER, Timers()
    floor_once(probes[0], rubric, timer)  # warm
    with pytest_extras(plugins=[timer]):
        engine.grade(probes[0].data, "hw2.py", rubric)
    rows = []
    for probe in probes:
        floor = floor_once(probe, rubric, timer)
        timers.reset()
        timer.seconds, timer.tests = 0.0, 0
        with instrumented(timers), pytest_extras(plugins=[timer]):
            started = time.perf_counter()
            report = engine.grade(probe.data, "hw2.py", rubric)
            total = time.perf_counter() - started
        child = parse_probe(report.student_output)
        marks = dict(timers.marks)
        row = {
            "name": probe.name, "template": probe.template,
            "engine_total": total, "engine_tests": timer.seconds if timer.tests else None,
            **{k: v for k, v in timers.seconds.items()}, "call_count": timers.count.get("calls", 0),
            "sandboxes": timers.count.get("sandbox_init", 0),
            "floor_total": floor.run_s, "floor_tests": floor.tests_s, "floor_student": floor.student_s,
            "floor_import": floor.import_s,
            "child_compute": child.get("compute_s"), "child_calls": child.get("calls"),
            "new_modules": child["new_modules"],
        }
        if "BENCH_IMPORT_START" in child and "sandbox_init:start" in marks:
            row["spawn_to_import_start"] = child["BENCH_IMPORT_START"] - marks.get("fork_server_spawn:start", marks["sandbox_init:start"])
            row["child_import"] = child["BENCH_IMPORT_END"] - child["BENCH_IMPORT_START"]
            row["import_end_to_ready"] = marks["sandbox_init:end"] - child["BENCH_IMPORT_END"]
            row["spawn_reply_to_import_start"] = child["BENCH_IMPORT_START"] - marks.get("fork_server_spawn:end", 0)
        rows.append(row)
        progress(f"profile: {probe.name:<44} engine {total * 1000:6.1f} ms  floor {floor.run_s * 1000:6.1f} ms")
    return {"rows": rows, "summary": _summarize(rows)}


def _spread(items: list[Submission], n: int) -> list[Submission]:
    """Up to `n` items, one per template first."""
    seen: dict[str, Submission] = {}
    for item in items:
        seen.setdefault(item.template, item)
    chosen = list(seen.values())[:n]
    for item in items:
        if len(chosen) >= n:
            break
        if item not in chosen:
            chosen.append(item)
    return chosen


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def _summarize(rows: list[dict]) -> dict:
    def avg(key: str, data: list[dict] = rows) -> float | None:
        values = [r[key] for r in data if r.get(key) is not None]
        return mean(values)

    calls = avg("calls") or 0.0
    compute = avg("child_compute") or 0.0
    encode_decode = (avg("parent_encode") or 0.0) + (avg("parent_decode") or 0.0)
    n_calls = avg("call_count") or 0.0
    sandbox = avg("sandbox_start_total") or 0.0
    checks_engine = (avg("engine_tests") or 0.0) - calls - sandbox
    checks_floor = (avg("floor_tests") or 0.0) - (avg("floor_student") or 0.0)
    harness_engine = (avg("engine_total") or 0.0) - (avg("engine_tests") or 0.0) - (avg("teardown") or 0.0)
    harness_floor = (avg("floor_total") or 0.0) - (avg("floor_tests") or 0.0)
    summary = {
        "n": len(rows),
        "engine_total_ms": _ms(avg("engine_total")),
        "floor_total_ms": _ms(avg("floor_total")),
        "overhead_ms": _ms((avg("engine_total") or 0) - (avg("floor_total") or 0)),
        "components_ms": {
            "sandbox_start (dirs, source file, spawn, isolation, student import, hello)": _ms(sandbox),
            "  of which fork server spawn round trip (cgroup + fork)": _ms(avg("fork_server_spawn")),
            "  of which spawn reply -> student import starts (isolation layers in the child)": _ms(avg("spawn_reply_to_import_start")),
            "  of which student import in the sandbox": _ms(avg("child_import")),
            "  of which import end -> hello received": _ms(avg("import_end_to_ready")),
            "  (student import in-process, for comparison)": _ms(avg("floor_import")),
            "calls: wall of all sandbox calls": _ms(calls),
            "  of which student code running in the sandbox": _ms(compute),
            "  of which round trip (encode, socket, decode, both sides)": _ms(calls - compute),
            "  of which parent-side encode + decode": _ms(encode_decode),
            "  (student code in-process, import excluded, for comparison)": _ms((avg("floor_student") or 0) - (avg("floor_import") or 0)),
            "teardown (kill, reap, cgroup removal, rmtree)": _ms(avg("teardown")),
            "checks and reference values (test bodies minus student calls), engine": _ms(checks_engine),
            "checks and reference values, floor": _ms(checks_floor),
            "pytest harness outside test bodies, engine": _ms(harness_engine),
            "pytest harness outside test bodies, floor": _ms(harness_floor),
        },
        "calls_per_grade": round(n_calls, 1),
        "round_trip_per_call_ms": _ms((calls - compute) / n_calls) if n_calls else None,
        "sandboxes_per_grade": avg("sandboxes"),
    }
    lazy: dict[str, list[float]] = collections.defaultdict(list)
    for row in rows:
        for item in row["new_modules"]:
            lazy[f"{item['function']}: {','.join(item['modules'][:6])}"].append(item["call_s"])
    summary["imports_after_fork"] = [
        {"where": key, "grades": len(values), "call_ms_mean": _ms(statistics.mean(values))}
        for key, values in sorted(lazy.items(), key=lambda kv: -sum(kv[1]))
    ]
    by_template: dict[str, list[dict]] = collections.defaultdict(list)
    for row in rows:
        by_template[row["template"]].append(row)
    summary["by_template_ms"] = {
        t: {"engine": _ms(avg("engine_total", rs)), "floor": _ms(avg("floor_total", rs)),
            "child_compute": _ms(avg("child_compute", rs)), "floor_student": _ms(avg("floor_student", rs))}
        for t, rs in sorted(by_template.items())
    }
    return summary


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
            timings[name + "_ms"] = {"p50": _ms(statistics.median(times)), "mean": _ms(statistics.mean(times))}
        started = time.perf_counter()
        box2 = engine._sandbox(ROUND_TRIP_SOURCE, "student", rubric.limits, "cpu")
        StudentModule(box2).nothing()
        timings["empty_sandbox_start_and_first_call_ms"] = _ms(time.perf_counter() - started)
        started = time.perf_counter()
        box2.close()
        timings["empty_sandbox_close_ms"] = _ms(time.perf_counter() - started)
        del torch
        return timings
    finally:
        box.close()


def _CustomForkServer(prelude: str) -> Any:  # noqa: N802 - stands in for the ForkServer class
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
        engine._server = _CustomForkServer(TIMED_PRELUDE)
        chosen = _spread([s for s in population if not s.hostile and s.filename.endswith(".py")], runs)
        engine.grade(chosen[0].data, chosen[0].filename, rubric)
        steps: dict[str, list[float]] = collections.defaultdict(list)
        for submission in chosen:
            report = engine.grade(submission.data, submission.filename, rubric)
            for match in re.findall(r"BENCH_ISOLATION=(\{.*\})", report.student_output):
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
    chosen = _spread(chosen, 3)
    if not chosen:
        return None
    stock, warmer = Engine(), Engine()
    try:
        warmer._server = _CustomForkServer("from grader.sandbox import forkserver\nforkserver._warm_up()\n"
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
        result = {k: {"p50_ms": _ms(statistics.median(v)), "mean_ms": _ms(statistics.mean(v)), "n": len(v)}
                  for k, v in times.items()}
        result["saving_p50_ms"] = _ms(statistics.median(times["stock"]) - statistics.median(times["sympy_preimported"]))
        result["submissions"] = [s.template for s in chosen]
        progress(f"what-if sympy pre-imported in the fork server: p50 {result['stock']['p50_ms']} -> "
                 f"{result['sympy_preimported']['p50_ms']} ms on {', '.join(result['submissions'])}")
        return result
    finally:
        stock.close()
        warmer.close()


def _py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def _role(processes: list[str], me: int) -> str:
    """Which process a py-spy sample is from: the trusted side, the fork server or a sandbox."""
    pids = [int(p.split(":", 1)[0].split()[1]) for p in processes]
    if not pids or pids[-1] == me:
        return "trusted"
    return "fork_server" if len(pids) == 2 else "sandbox"


def _frame_name(frame: str) -> str:
    """'function (path/to/file.py:123)' -> 'function (file.py)', the line dropped so lines add up."""
    match = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return frame
    function, path = match.groups()
    return f"{function} ({'/'.join(Path(path).parts[-2:])})"


def analyze_raw(lines: list[str], me: int, grades: int, rate: int) -> dict:
    """Own and inclusive time per function and per process role, ms per grade, from py-spy's raw
    (collapsed-stack) output."""
    per_role: dict[str, float] = collections.defaultdict(float)
    own: dict[str, dict[str, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    inclusive: dict[str, dict[str, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        parts = stack.split(";")
        processes = [p for p in parts if p.startswith("process ")]
        frames = [_frame_name(p) for p in parts if not p.startswith("process ")]
        role = _role(processes, me)
        per_role[role] += count
        if frames:
            own[role][frames[-1]] += count
        for name in set(frames):
            inclusive[role][name] += count
    scale = 1000.0 / rate / max(grades, 1)  # samples -> ms per grade

    def top(table: dict[str, float], n: int, grader_only: bool = False) -> list[dict]:
        items = [(k, v) for k, v in table.items() if not grader_only or "grader/" in k or "sandbox/" in k or "rubric/" in k]
        return [{"function": k, "ms_per_grade": round(v * scale, 2)} for k, v in sorted(items, key=lambda kv: -kv[1])[:n]]

    return {
        "ms_per_grade_by_process": {role: round(v * scale, 2) for role, v in sorted(per_role.items())},
        "own_time": {role: top(own[role], 12) for role in sorted(own)},
        "inclusive_grader_functions": {role: top(inclusive[role], 20, grader_only=True) for role in sorted(inclusive)},
    }


def py_spy_profile(engine: Engine, population: list[Submission], rubric: Rubric, n: int, out_path: Path,
                   rate: int = 250) -> dict:
    """py-spy samples this process (every thread: the rubric runs in its own), its fork server and
    the sandboxes while `n` submissions are graded; collapsed stacks go to `out_path`."""
    binary = _py_spy()
    if binary is None:
        return {"skipped": "py-spy is not installed (it is in the test extras: make install)"}
    chosen = _spread([s for s in population if not s.hostile], n)
    engine.grade(chosen[0].data, chosen[0].filename, rubric)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen([binary, "record", "--pid", str(os.getpid()), "--rate", str(rate), "--format", "raw",
                            "--output", str(out_path), "--subprocesses", "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # py-spy attaches
    if spy.poll() is not None:
        return {"skipped": f"py-spy could not attach: {spy.stderr.read().decode(errors='replace')[-500:]}"}  # type: ignore[union-attr]
    started = time.perf_counter()
    for submission in chosen:
        engine.grade(submission.data, submission.filename, rubric)
    wall = time.perf_counter() - started
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=60)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()
    if not out_path.exists():
        return {"skipped": f"py-spy wrote nothing: {spy.stderr.read().decode(errors='replace')[-500:]}"}  # type: ignore[union-attr]
    result = analyze_raw(out_path.read_text().splitlines(), os.getpid(), len(chosen), rate)
    result.update({
        "grades": len(chosen), "wall_ms_per_grade": round(wall / len(chosen) * 1000, 1), "rate_hz": rate,
        "raw": str(out_path),
        "note": ("on-CPU samples only (idle waits are left out); the sandboxes live ~0.1 s and py-spy finds "
                 "new processes by polling, so their figures are a lower bound; the raw file opens in speedscope"),
    })
    return result


def what_if_one_torch_thread(population: list[Submission], rubric: Rubric, workers: int, grades: int,
                             progress: Callable[[str], None]) -> dict:
    """An engine pool as the workers run it (torch's default intra-op threads: one per core) and one
    whose processes have OMP_NUM_THREADS=1, back to back."""
    from benchmarks.pool import run_pool

    chosen = [s for s in population if not s.hostile]
    runs: dict[str, list[float]] = {"default_threads": [], "one_thread": []}
    for _ in range(1):
        for key, env in (("default_threads", None), ("one_thread", {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})):
            result = run_pool(chosen, rubric.directory, workers, grades, lambda line: None, env=env)
            runs[key].append(result["throughput_per_s"])
    summary = {k: {"throughput_per_s": v, "mean": round(statistics.mean(v), 3)} for k, v in runs.items()}
    summary["speedup"] = round(summary["one_thread"]["mean"] / summary["default_threads"]["mean"], 2)
    summary["workers"], summary["grades_per_run"] = workers, grades
    progress(f"what-if one torch thread per worker: {summary['default_threads']['mean']} -> "
             f"{summary['one_thread']['mean']} submissions/s with {workers} engine processes")
    return summary


def run_profile(engine: Engine, population: list[Submission], rubric: Rubric, out_dir: Path, sample: int,
                progress: Callable[[str], None], workers: int = 2) -> dict:
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
