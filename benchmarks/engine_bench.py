"""Floor and engine, measured as pairs: each submission is graded in-process (the floor) and by a
warm `Engine` (fork server, sandbox, proxy) one right after the other, alternating which goes first,
so that load from anything else on the machine falls on both alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks import memory
from benchmarks.floor import SHARED_TIMER, FloorResult, TestTimer, floor_once, outcome_key, pytest_extras
from benchmarks.population import Submission
from grader.engine import Engine
from grader.rubric_spec import Rubric
from grader.sandbox.limits import sandbox_cgroup_prefix


@dataclass
class EngineResult:
    wall_s: float
    score: float
    outcomes: list[tuple[str, str, bool]]
    warnings: list[str] = field(default_factory=list)
    student_output: str = ""
    tests_s: float | None = None  # inside test bodies (checks, reference values, sandbox calls)


def engine_once(engine: Engine, submission: Submission, rubric: Rubric, timer: TestTimer | None = None) -> EngineResult:
    timer = timer or SHARED_TIMER
    timer.seconds, timer.tests = 0.0, 0
    with pytest_extras(plugins=[timer]):
        started = time.perf_counter()
        report = engine.grade(submission.data, submission.filename, rubric)
        wall = time.perf_counter() - started
    return EngineResult(wall, report.score, outcome_key(report.tests), list(report.warnings), report.all_printed,
                        timer.seconds if timer.tests else None)


def warm_up(engine: Engine | None, do_floor: bool, population: list[Submission], rubric: Rubric,
            timer: TestTimer) -> None:
    """One untimed run of each side on a correct submission: imports, reference module, fork server."""
    first = next((s for s in population if not s.hostile), None)
    if first is None:
        return
    if do_floor:
        floor_once(first, rubric, timer)
    if engine is not None:
        engine_once(engine, first, rubric, timer)


def run_pairs(population: list[Submission], rubric: Rubric, engine: Engine | None, do_floor: bool,
              progress: Callable[[str], None]) -> list[dict]:
    """One row per submission: floor and/or engine timings, scores, and whether their outcomes agree."""
    timer = SHARED_TIMER
    warm_up(engine, do_floor, population, rubric, timer)
    rows = []
    for i, submission in enumerate(population):
        floor: FloorResult | None = None
        graded: EngineResult | None = None
        order = ("floor", "engine") if i % 2 == 0 else ("engine", "floor")
        for side in order:
            if side == "floor" and do_floor:
                floor = floor_once(submission, rubric, timer)
            elif side == "engine" and engine is not None:
                graded = engine_once(engine, submission, rubric, timer)
        row: dict = {"index": submission.index, "name": submission.name, "category": submission.category,
                     "times_out": submission.times_out, "expected_score": submission.expected_score}
        if floor is not None:
            row["floor"] = {"total_s": floor.total_s, "run_s": floor.run_s, "tests_s": floor.tests_s,
                            "student_s": floor.student_s, "import_s": floor.import_s, "calls": floor.calls,
                            "score": floor.score, "emulated": floor.emulated}
        if graded is not None:
            row["engine"] = {"wall_s": graded.wall_s, "tests_s": graded.tests_s, "score": graded.score,
                             "warnings": graded.warnings}
        if floor is not None and graded is not None:
            row["overhead_s"] = graded.wall_s - floor.total_s
            row["outcomes_agree"] = floor.outcomes == graded.outcomes
        rows.append(row)
        parts = [f"[{i + 1}/{len(population)}] {submission.name:<48}"]
        if floor is not None:
            parts.append(f"floor {floor.total_s * 1000:7.1f} ms")
        if graded is not None:
            parts.append(f"engine {graded.wall_s * 1000:7.1f} ms  score {graded.score:g}")
        if "outcomes_agree" in row and not row["outcomes_agree"]:
            parts.append("OUTCOMES DIFFER")
        progress("  ".join(parts))
    return rows


def sandbox_memory(engine: Engine, population: list[Submission], rubric: Rubric, runs: int = 3) -> dict:
    """Peak RSS of a sandbox (its own ru_maxrss, printed by a probe submission) and the memory its
    cgroup was charged (pages it did not share with the fork server), plus the fork server's RSS."""
    sources = [s for s in population if s.category == "correct" and s.filename.endswith(".py")][:runs]
    maxrss: list[int] = []
    engine._fork_server()  # started, so its pid names the cgroups to watch
    prefix = sandbox_cgroup_prefix(engine._server.process.pid) if engine._server is not None else "sandbox-"
    with memory.CgroupSampler(prefix=prefix) as sampler:
        for submission in sources:
            source = submission.data.decode()
            report = engine.grade(memory.probe_source(source).encode(), "hw2.py", rubric)
            value = memory.probe_maxrss(report.all_printed)
            if value is not None:
                maxrss.append(value)
    server = engine._server  # the warm fork server this engine grades through
    server_status = memory.proc_status(server.process.pid) if server is not None else {}
    charged = list(sampler.peaks.values())
    return {
        "probe_runs": len(sources),
        "sandbox_peak_rss_mib": memory.mib(max(maxrss)) if maxrss else None,
        "sandbox_cgroup_peak_mib": memory.mib(max(charged)) if charged else None,
        "sandbox_cgroups_seen": len(charged),
        "fork_server_rss_mib": memory.mib(server_status.get("VmRSS")),
        "fork_server_peak_rss_mib": memory.mib(server_status.get("VmHWM")),
        "note": ("sandbox RSS counts the torch pages it shares with the fork server; the cgroup figure "
                 "is what it added (copy-on-write copies and its own allocations)"),
    }
