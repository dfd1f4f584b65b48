"""Engines in parallel without the service: as many worker processes as a Celery worker has, each with its own warm
`Engine`, pulling submissions from a shared in-memory queue. Its throughput is what the service
could reach if the queue, database and HTTP cost nothing, and its processes give worker and fork
server memory figures even where the service layer cannot run."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import memory
from benchmarks.population import Submission

READY_TIMEOUT_S = 300


def _worker(rubric_dir: str, warm: tuple[bytes, str], ready: mp.Queue, go: mp.Event, tasks: mp.Queue,
            results: mp.Queue) -> None:
    from grader.engine import Engine
    from grader.rubric_spec import load_rubric

    rubric = load_rubric(rubric_dir)
    with Engine() as engine:
        engine.grade(warm[0], warm[1], rubric)
        ready.put(os.getpid())
        go.wait()
        while True:
            try:
                item = tasks.get(timeout=1)
            except queue.Empty:
                continue
            if item is None:
                break
            index, data, filename = item
            started = time.perf_counter()
            report = engine.grade(data, filename, rubric)
            results.put((index, time.perf_counter() - started, report.score, os.getpid()))


def _classify(pid: int, command: str, depth: int) -> str | None:
    if depth == 0 or "resource_tracker" in command:
        return None
    return {1: "worker", 2: "fork_server"}.get(depth, "sandbox")


def run_pool(population: list[Submission], rubric_dir: Path, workers: int, total: int,
             progress: Callable[[str], None], env: dict[str, str] | None = None) -> dict:
    """Grade `total` submissions (the population cycled) with `workers` engine processes
    (started with `env` added to this process's environment, if given)."""
    ctx = mp.get_context("spawn")  # never fork a process that has torch threads running
    ready, tasks, results, go = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Event()
    warm = next(s for s in population if not s.hostile)
    worker_args = (str(rubric_dir), (warm.data, warm.filename), ready, go, tasks, results)
    processes = [ctx.Process(target=_worker, args=worker_args, daemon=True) for _ in range(workers)]
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        for process in processes:
            process.start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        for _ in processes:
            while True:
                try:
                    ready.get(timeout=1)
                    break
                except queue.Empty:
                    dead = [p.exitcode for p in processes if not p.is_alive()]
                    if dead or time.monotonic() > deadline:
                        raise RuntimeError(f"pool workers did not start (exit codes {dead})") from None
        jobs = [population[i % len(population)] for i in range(total)]
        for i, submission in enumerate(jobs):
            tasks.put((i, submission.data, submission.filename))
        for _ in processes:
            tasks.put(None)
        sampler = memory.TreeSampler(os.getpid(), _classify, interval_s=0.5).start()
        started = time.perf_counter()
        t_start = sampler.now()
        go.set()
        rows = []
        for n in range(total):
            while True:
                try:
                    index, seconds, score, pid = results.get(timeout=5)
                    break
                except queue.Empty:
                    if not any(p.is_alive() for p in processes):
                        raise RuntimeError("every pool worker exited before the work was done") from None
            rows.append({"job": index, "index": jobs[index].index, "category": jobs[index].category,
                         "wall_s": seconds, "score": score, "pid": pid})
            if (n + 1) % max(1, total // 10) == 0 or n + 1 == total:
                progress(f"pool: {n + 1}/{total} graded, {time.perf_counter() - started:.1f} s")
        wall = time.perf_counter() - started
        t_end = sampler.now()
        sampler.stop()
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return {
        "workers": workers,
        "submissions": total,
        "wall_s": round(wall, 3),
        "throughput_per_s": round(total / wall, 3),
        "worker_peak_rss_mib": memory.mib(sampler.peak("worker")),
        "fork_server_peak_rss_mib": memory.mib(sampler.peak("fork_server")),
        "sandbox_peak_rss_mib": memory.mib(sampler.peak("sandbox")),
        "worker_rss_growth_mib": sampler.max_growth_mib("worker", t_start, t_end),
        "rows": rows,
    }
