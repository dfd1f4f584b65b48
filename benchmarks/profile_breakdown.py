"""Per-component breakdown of engine grades against their in-process floors: the engine's sandbox,
proxy and fork-server methods are wrapped with timers in this process while timing probes are graded,
so every component is set against its in-process counterpart."""

from __future__ import annotations

import collections
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.floor import SHARED_TIMER, floor_once, pytest_extras
from benchmarks.population import Submission, spread_templates
from benchmarks.profile_probe import parse_probe, timing_probe
from benchmarks.stats import mean, to_ms
from grader.engine import Engine
from grader.rubric_spec import Rubric


class Timers:
    """Wall time (and count) of wrapped functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.count: dict[str, int] = collections.defaultdict(int)

    def reset(self) -> None:
        self.seconds.clear()
        self.count.clear()


@contextmanager
def instrumented(timers: Timers) -> Iterator[None]:
    """Wrap the engine's sandbox internals with timers for the block (the classes are restored)."""
    import grader.sandbox.forkserver as forkserver
    import grader.sandbox.proxy as proxy

    patched: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, key: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timers.seconds[key] += time.perf_counter() - started
                timers.count[key] += 1

        patched.append((owner, name, original))
        setattr(owner, name, wrapper)

    wrap(proxy.SubmissionSandbox, "__init__", "submission_dir")
    # A spare sandbox forks and isolates while the previous submission is graded. A grade hands
    # it the source and the calls it will make (`begin_load`, before the tests), makes the next
    # spare (`__init__`: directories and the spawn request), waits for the import in its first
    # test (`finish_load`) and then for answers the sandbox computes alongside the tests (`result`).
    wrap(proxy.Sandbox, "begin_load", "sandbox_begin")
    wrap(proxy.Sandbox, "finish_load", "sandbox_load")
    wrap(proxy.Sandbox, "__init__", "sandbox_init")
    wrap(forkserver.ForkServer, "spawn", "fork_server_spawn")
    wrap(proxy.Sandbox, "result", "calls")
    wrap(proxy.SubmissionSandbox, "stop", "stop")
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
    chosen = spread_templates([s for s in population if not s.hostile], sample)
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
        child = parse_probe(report.all_printed)
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
        if "BENCH_IMPORT_START" in child:
            row["child_import"] = child["BENCH_IMPORT_END"] - child["BENCH_IMPORT_START"]
        rows.append(row)
        progress(f"profile: {probe.name:<44} engine {total * 1000:6.1f} ms  floor {floor.run_s * 1000:6.1f} ms")
    return {"rows": rows, "summary": _summarize(rows)}


def _summarize(rows: list[dict]) -> dict:
    def avg(key: str, data: list[dict] = rows) -> float | None:
        values = [r[key] for r in data if r.get(key) is not None]
        return mean(values)

    calls = avg("calls") or 0.0
    compute = avg("child_compute") or 0.0
    encode_decode = (avg("parent_encode") or 0.0) + (avg("parent_decode") or 0.0)
    n_calls = avg("call_count") or 0.0
    before_tests = (avg("sandbox_begin") or 0.0) + (avg("sandbox_init") or 0.0)
    teardown = (avg("stop") or 0.0) + (avg("teardown") or 0.0)
    checks_engine = (avg("engine_tests") or 0.0) - calls - (avg("sandbox_load") or 0.0)
    checks_floor = (avg("floor_tests") or 0.0) - (avg("floor_student") or 0.0)
    harness_engine = (avg("engine_total") or 0.0) - (avg("engine_tests") or 0.0) - teardown - before_tests
    harness_floor = (avg("floor_total") or 0.0) - (avg("floor_tests") or 0.0)
    summary = {
        "n": len(rows),
        "engine_total_ms": to_ms(avg("engine_total")),
        "floor_total_ms": to_ms(avg("floor_total")),
        "overhead_ms": to_ms((avg("engine_total") or 0) - (avg("floor_total") or 0)),
        "components_ms": {
            "before the tests: hand the spare the source and the calls, make the next spare": to_ms(before_tests),
            "  of which making the next spare (directories, spawn request)": to_ms(avg("sandbox_init")),
            "  of which the spawn request to the fork server": to_ms(avg("fork_server_spawn")),
            "first test: waiting for the import": to_ms(avg("sandbox_load")),
            "  (student import in the sandbox, from its own clock)": to_ms(avg("child_import")),
            "  (student import in-process, for comparison)": to_ms(avg("floor_import")),
            "tests waiting for answers (the calls were sent ahead)": to_ms(calls),
            "  (student code running in the sandbox, alongside the tests)": to_ms(compute),
            "  of which parent-side encode + decode": to_ms(encode_decode),
            "  (student code in-process, import excluded, for comparison)": to_ms((avg("floor_student") or 0) - (avg("floor_import") or 0)),
            "teardown: kill, then wait until reaped (cgroup emptied), rmtree": to_ms(teardown),
            "checks and reference values (test bodies minus student calls), engine": to_ms(checks_engine),
            "checks and reference values, floor": to_ms(checks_floor),
            "pytest harness outside test bodies, engine": to_ms(harness_engine),
            "pytest harness outside test bodies, floor": to_ms(harness_floor),
        },
        "calls_per_grade": round(n_calls, 1),
        "wait_per_call_ms": to_ms(calls / n_calls) if n_calls else None,
        "sandboxes_per_grade": avg("sandboxes"),
    }
    lazy: dict[str, list[float]] = collections.defaultdict(list)
    for row in rows:
        for item in row["new_modules"]:
            lazy[f"{item['function']}: {','.join(item['modules'][:6])}"].append(item["call_s"])
    summary["imports_after_fork"] = [
        {"where": key, "grades": len(values), "call_ms_mean": to_ms(statistics.mean(values))}
        for key, values in sorted(lazy.items(), key=lambda kv: -sum(kv[1]))
    ]
    by_template: dict[str, list[dict]] = collections.defaultdict(list)
    for row in rows:
        by_template[row["template"]].append(row)
    summary["by_template_ms"] = {
        t: {"engine": to_ms(avg("engine_total", rs)), "floor": to_ms(avg("floor_total", rs)),
            "child_compute": to_ms(avg("child_compute", rs)), "floor_student": to_ms(avg("floor_student", rs))}
        for t, rs in sorted(by_template.items())
    }
    return summary
