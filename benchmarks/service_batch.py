"""Batch regrade of the stored submissions: the instructor starts it over HTTP and the clock stops
when its progress says finished, while the RSS of every worker process (and fork server and sandbox)
is sampled, so throughput and memory growth under load come from the same run."""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks import memory
from benchmarks.population import Submission
from benchmarks.service_queries import submission_status
from benchmarks.service_stack import Stack
from benchmarks.stats import summarize_ms


def measure_batch(db, client, stack: Stack, assignment_id: int, stored: list[tuple[int, Submission]],  # type: ignore[no-untyped-def]
                  instructor_auth: dict[str, str], workers: int, call_timeout_s: float,
                  progress: Callable[[str], None]) -> dict:
    """The `batch` and `memory` keys of the service section, from one regrade of `stored`."""
    batch = len(stored)
    result: dict = {}
    interval = 1.0 if batch >= 200 else 0.1  # a short batch needs denser samples to show growth
    sampler = memory.TreeSampler(stack.worker.pid, stack.worker_classify, interval_s=interval)  # type: ignore[union-attr]
    sampler.start()
    time.sleep(interval * 1.2)  # a baseline sample or two before the batch
    t_start = sampler.now()
    started = time.perf_counter()
    response = client.post(f"/api/assignments/{assignment_id}/regrades", headers=instructor_auth,
                           json={"reason": "benchmark", "submission_ids": [sid for sid, _ in stored]})
    response.raise_for_status()
    batch_id = int(response.json()["id"])
    progress(f"service: regrade {batch_id} of {batch} stored submissions started")
    last_report = 0.0
    while True:
        state = client.get(f"/api/regrades/{batch_id}", headers=instructor_auth).json()
        if state["status"] == "finished":
            break
        if time.perf_counter() - last_report > 10:
            last_report = time.perf_counter()
            progress(f"service: regrade {state['done'] + state['failed']}/{state['total']} "
                     f"after {last_report - started:.0f} s")
        time.sleep(0.25)
    wall = time.perf_counter() - started
    t_end = sampler.now()
    time.sleep(interval * 1.2)
    sampler.stop()
    result["batch"] = _batch_figures(db, stored, state, wall, workers, call_timeout_s)
    result["memory"] = {
        "worker_peak_rss_mib": memory.mib(sampler.peak("worker")),
        "worker_main_peak_rss_mib": memory.mib(sampler.peak("worker_main")),
        "fork_server_peak_rss_mib": memory.mib(sampler.peak("fork_server")),
        "sandbox_peak_rss_mib": memory.mib(sampler.peak("sandbox")),
        "worker_rss_growth": sampler.growth("worker", t_start, t_end),
        "worker_rss_growth_max_mib": sampler.max_growth_mib("worker", t_start, t_end),
        "fork_server_rss_growth_max_mib": sampler.max_growth_mib("fork_server", t_start, t_end),
        "samples": len(sampler.samples),
        "worker_pids": sampler.pids("worker"),
    }
    progress(f"service: regrade finished in {wall:.1f} s ({batch / wall:.2f} submissions/s)")
    return result


def _batch_figures(db, stored: list[tuple[int, Submission]], state: dict, wall: float, workers: int,  # type: ignore[no-untyped-def]
                   call_timeout_s: float) -> dict:
    """Throughput, statuses, and per-category worker time from the grading runs of the batch."""
    from sqlalchemy import func, select

    from grader.db.models import GradingRun

    ids = [sid for sid, _ in stored]
    category = {sid: sub.category for sid, sub in stored}
    statuses = submission_status(db, ids)
    latest = (
        select(GradingRun.submission_id, func.max(GradingRun.id).label("run_id"))
        .where(GradingRun.submission_id.in_(ids)).group_by(GradingRun.submission_id).subquery()
    )
    runs = db.execute(
        select(GradingRun.submission_id, GradingRun.started_at, GradingRun.finished_at, GradingRun.duration_s,
               GradingRun.status).join(latest, latest.c.run_id == GradingRun.id)
    ).all()
    task_s = {sid: (finished - started_at).total_seconds() for sid, started_at, finished, _, _ in runs
              if finished is not None and started_at is not None}
    timeout_ids = [sid for sid, sub in stored if sub.times_out]
    busy_on_timeouts = sum(task_s.get(sid, 0.0) for sid in timeout_ids)
    rest = len(ids) - len(timeout_ids)
    rest_wall = wall - busy_on_timeouts / max(workers, 1)
    by_category = {}
    for name in sorted(set(category.values())):
        members = [sid for sid in ids if category[sid] == name]
        by_category[name] = {"n": len(members), "task": summarize_ms(task_s[s] for s in members if s in task_s)}
    return {
        "submissions": len(ids),
        "wall_s": round(wall, 2),
        "throughput_per_s": round(len(ids) / wall, 3),
        "non_timeout_throughput_per_s_est": round(rest / rest_wall, 3) if rest_wall > 0 else None,
        "progress": state,
        "statuses": {s: sum(v == s for v in statuses.values()) for s in sorted(set(statuses.values()))},
        "task_all": summarize_ms(task_s.values()),
        "by_category": by_category,
        "note": ("task = a run's finished_at - started_at in the database (claim to result); the non-timeout "
                 "throughput takes the time workers spent on timing-out submissions out"),
    }
