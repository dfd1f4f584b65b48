"""The whole service: uploads over HTTP -> PostgreSQL -> Redis -> Celery worker processes -> the
score readable over HTTP, with real processes (uvicorn, `celery worker`) on a fresh database.

1. The stack: a new PostgreSQL database `bench_<hex>` (migrated, dropped at the end), a Redis
   database with a key prefix of our own (our keys deleted at the end), a rubrics folder with the
   benchmark's limits, an API (`uvicorn grader.api.main:create_app --factory`) and one
   `celery -A workers.app worker -Q cpu --concurrency N` (N = GRADER_WORKER_CONCURRENCY: one per core, plus one).
2. Stored submissions: the batch (the population cycled) is submitted through the services before
   any worker runs; the grading messages that sends are purged, so the submissions wait stored.
3. Single uploads on an idle system: one at a time over HTTP as a student; the clock stops when
   GET /api/submissions/{id} returns it graded (the database is polled every few milliseconds in
   between, so polling adds no load on the API).
4. Batch regrade: the instructor starts a regrade of the stored submissions over HTTP; the clock
   stops when the regrade's progress says finished. The RSS of every worker process (and fork
   server and sandbox) is sampled every second meanwhile.

Each step has its module: service_stack (database, broker, API and worker processes),
service_queries (statuses read from the database), service_singles and service_batch (the two
measurements); this one stores the class's work and runs them in order.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from benchmarks.population import Submission
from benchmarks.service_batch import measure_batch
from benchmarks.service_queries import wait_graded
from benchmarks.service_singles import measure_singles
from benchmarks.service_stack import READY_TIMEOUT_S, REDIS_URL, Stack, environment

__all__ = ["run_service"]


def run_service(stack: Stack, population: list[Submission], singles: int, batch: int, call_timeout_s: float,
                progress: Callable[[str], None], floor: Callable[[Submission], float] | None = None) -> dict:
    """`floor(submission)` (seconds, in-process) is measured right before each single upload, so
    each latency has its own floor taken under the same conditions. The worker is stopped at the
    end; the rest of the stack is the run's to close."""
    import httpx

    stack.create_database()  # first: the environment below names it
    workers = stack.workers
    result: dict = {"workers": workers, "database": stack.database, "broker": REDIS_URL,
                    "key_prefix": stack.key_prefix}
    with environment(stack.env):
        from grader.db.session import session_scope

        try:
            assignment_id, student_token, instructor_token, stored, store_s = _store_class(population, batch, progress)
            result["store_s"] = store_s
            result["purged_broker_keys"] = stack.purge_broker()

            stack.start_api(wait=False)  # both start at once; the worker waits for its pool
            stack.start_worker()
            stack.wait_api()
            progress(f"service: API on {stack.base_url}, worker {stack.worker_name} with {workers} pool processes")
            client = httpx.Client(base_url=stack.base_url, timeout=60)
            student_auth = {"Authorization": f"Bearer {student_token}"}
            instructor_auth = {"Authorization": f"Bearer {instructor_token}"}

            def upload(sub: Submission) -> int:
                response = client.post(f"/api/assignments/{assignment_id}/submissions", headers=student_auth,
                                       files={"file": (sub.filename, sub.data)})
                response.raise_for_status()
                return int(response.json()["id"])

            singles_pool = [s for s in population if not s.times_out] or population
            with session_scope() as db:
                # warm-up: every pool process grades at least once (its fork server warms up meanwhile)
                warm = [upload(singles_pool[i % len(singles_pool)]) for i in range(2 * workers)]
                wait_graded(db, warm, READY_TIMEOUT_S + 60 * call_timeout_s)

                # ---------------------------------------------------------- single uploads, idle system
                result.update(measure_singles(db, client, upload, singles_pool, singles, student_auth,
                                              call_timeout_s, progress, floor))

                # ---------------------------------------------------------- batch regrade
                result.update(measure_batch(db, client, stack, assignment_id, stored, instructor_auth, workers,
                                            call_timeout_s, progress))
            client.close()
        finally:
            stack.stop_worker()
    return result


def _store_class(population: list[Submission], batch: int, progress: Callable[[str], None]
                 ) -> tuple[int, str, str, list[tuple[int, Submission]], float]:
    """A course with an instructor, a roster and hw2, and the batch stored through the services
    while no worker runs (so it waits stored): (assignment id, student token, instructor token,
    stored (id, submission) pairs, seconds the storing took)."""
    from grader.db.models import Assignment
    from grader.db.session import session_scope
    from grader.services import assignments, courses, roster, submissions, users

    with session_scope() as db:
        tag = uuid.uuid4().hex[:6]
        instructor = users.create_user(db, f"prof-{tag}@bench.edu", "Bench Instructor", "instructor")
        course = courses.create_course(db, instructor, f"BENCH-{tag}", "Benchmark course")
        students = [
            roster.enrol(db, instructor, course, f"s{i:03d}-{tag}@bench.edu", "student", f"Student {i:03d}").user
            for i in range(max(1, min(100, batch // 10)))
        ]
        assignment = assignments.create_assignment(db, instructor, course, "hw2", "hw2",
                                                   assignments.AssignmentSettings(title="HW2"))
        db.commit()
        assignment_id = assignment.id
        student_token = users.issue_token(db, students[0], label="bench")
        instructor_token = users.issue_token(db, instructor, label="bench")
        db.commit()
        progress(f"service: storing {batch} submissions through the services (no worker running yet)")
        started = time.perf_counter()
        jobs = [population[i % len(population)] for i in range(batch)]
        stored: list[tuple[int, Submission]] = []
        for i, sub in enumerate(jobs):
            assignment = db.get(Assignment, assignment_id)
            row = submissions.submit(db, students[i % len(students)], assignment, sub.filename, sub.data)
            db.commit()  # one transaction per upload, as the API commits each
            stored.append((row.id, sub))
        store_s = round(time.perf_counter() - started, 2)
    return assignment_id, student_token, instructor_token, stored, store_s
