"""What-if: an engine pool with torch's default intra-op threads against one with one thread per
process, to see whether oversubscribed cores cost throughput."""

from __future__ import annotations

import statistics
from collections.abc import Callable

from benchmarks.population import Submission
from grader.rubric_spec import Rubric


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
