"""Single uploads on an idle, warmed-up system: one at a time over HTTP as a student, the clock
stopped when GET /api/submissions/{id} returns it graded; each latency is split into the HTTP upload,
the wait until a worker starts it and the worker's run, and set against its own in-process floor."""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.population import Submission
from benchmarks.service_queries import latest_run, wait_graded
from benchmarks.service_stack import READY_TIMEOUT_S
from benchmarks.stats import summarize_ms


def measure_singles(db, client, upload: Callable[[Submission], int], singles_pool: list[Submission],  # type: ignore[no-untyped-def]
                    singles: int, student_auth: dict[str, str], call_timeout_s: float,
                    progress: Callable[[str], None], floor: Callable[[Submission], float] | None) -> dict:
    """The `singles` uploads' rows and summaries (the `single_*` keys of the service section);
    `floor(submission)` is measured right before each upload, under the same conditions."""
    result: dict = {}
    rows = []
    for i in range(singles):
        sub = singles_pool[i % len(singles_pool)]
        floor_s = floor(sub) if floor is not None else None
        wall_clock = time.time()
        started = time.perf_counter()
        sid = upload(sub)
        uploaded = time.perf_counter() - started
        wait_graded(db, [sid], READY_TIMEOUT_S + 60 * call_timeout_s)
        detail = client.get(f"/api/submissions/{sid}", headers=student_auth)
        detail.raise_for_status()
        latency = time.perf_counter() - started
        body = detail.json()
        run = latest_run(db, sid)
        rows.append({"submission": sid, "index": sub.index, "category": sub.category,
                     "latency_s": latency, "upload_s": uploaded, "floor_s": floor_s,
                     "wait_s": None if run is None else run[0].timestamp() - wall_clock,
                     "task_s": None if run is None else run[1],
                     "status": body["submission"]["status"], "score": body["feedback"]["score"]})
        progress(f"[{i + 1}/{singles}] service upload {sub.name:<40} {latency * 1000:8.1f} ms "
                 f"(HTTP upload {uploaded * 1000:.1f} ms, upload -> worker starts "
                 f"{(rows[-1]['wait_s'] or 0) * 1000:.1f} ms, worker {(rows[-1]['task_s'] or 0) * 1000:.1f} ms"
                 + (f", floor {floor_s * 1000:.1f} ms)" if floor_s is not None else ")"))
    result["singles"] = rows
    result["single_latency"] = summarize_ms(r["latency_s"] for r in rows)
    result["single_upload"] = summarize_ms(r["upload_s"] for r in rows)
    result["single_wait"] = summarize_ms(r["wait_s"] for r in rows if r["wait_s"] is not None)
    result["single_task"] = summarize_ms(r["task_s"] for r in rows if r["task_s"] is not None)
    result["single_note"] = ("latency = HTTP upload start -> GET shows it graded; wait = upload start -> "
                             "the worker's run starts; task = the run's duration in the database")
    return result
