"""The whole service: uploads over HTTP -> PostgreSQL -> Redis -> Celery worker processes -> the
score readable over HTTP, with real processes (uvicorn, `celery worker`) on a fresh database.

1. The stack: a new PostgreSQL database `bench_<pid>_<hex>` (migrated, dropped at the end), a Redis
   database with a key prefix of our own (our keys deleted at the end), a rubrics folder with the
   benchmark's limits, an API (`uvicorn grader.api.main:create_app --factory`) and one
   `celery -A workers.app worker -Q cpu --concurrency N` (N = one pool process per core).
2. Stored submissions: the batch (the population cycled) is submitted through the services before
   any worker runs; the grading messages that sends are purged, so the submissions wait stored.
3. Single uploads on an idle system: one at a time over HTTP as a student; the clock stops when
   GET /api/submissions/{id} returns it graded (the database is polled every few milliseconds in
   between, so polling adds no load on the API).
4. Batch regrade: the instructor starts a regrade of the stored submissions over HTTP; the clock
   stops when the regrade's progress says finished. The RSS of every worker process (and fork
   server and sandbox) is sampled every second meanwhile.
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks import memory
from benchmarks.population import ROOT, Submission
from benchmarks.stats import summarize_ms

POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
READY_TIMEOUT_S = 120
POLL_S = 0.005
SERVICE_MODULES = ("workers.app", "workers.tasks", "grader.api.main", "grader.services.submissions",
                   "grader.services.regrades", "grader.services.users", "grader.services.courses",
                   "grader.db.session", "grader.db.models")
FINISHED = ("graded", "failed")


def unavailable() -> str | None:
    """Why the service part cannot run here (None if it can)."""
    for name in SERVICE_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any failure means the layer is not usable yet
            return f"{name} does not import ({type(exc).__name__}: {exc})"
    try:
        import httpx  # noqa: F401
        import redis
        from sqlalchemy import create_engine, text

        engine = create_engine(POSTGRES_SERVER, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL ({POSTGRES_SERVER}) or Redis ({REDIS_URL}) not reachable: {type(exc).__name__}: {exc}"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """GRADER_* settings of this process replaced by `variables` inside the block."""
    from grader.config import get_settings

    saved = {k: v for k, v in os.environ.items() if k.startswith("GRADER_")}
    for name in saved:
        del os.environ[name]
    os.environ.update(variables)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name in [k for k in os.environ if k.startswith("GRADER_")]:
            del os.environ[name]
        os.environ.update(saved)
        get_settings.cache_clear()


class Stack:
    """Database, broker prefix, API and worker processes of one benchmark run."""

    def __init__(self, rubrics_dir: Path, log_dir: Path, workers: int, worker_env: dict[str, str] | None = None) -> None:
        self.worker_env = dict(worker_env or {})
        tag = f"{os.getpid()}_{uuid.uuid4().hex[:8]}"
        from sqlalchemy.engine import make_url

        self.database = f"bench_{tag}"
        self.database_url = make_url(POSTGRES_SERVER).set(database=self.database).render_as_string(hide_password=False)
        self.key_prefix = f"bench-{tag}:"
        self.rubrics_dir, self.log_dir, self.workers = rubrics_dir, log_dir, workers
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.worker_name = f"bench-{uuid.uuid4().hex[:8]}"
        self.env = {
            "GRADER_DATABASE_URL": self.database_url,
            "GRADER_BROKER_URL": REDIS_URL,
            "GRADER_BROKER_KEY_PREFIX": self.key_prefix,
            "GRADER_RUBRICS_DIR": str(rubrics_dir),
            "GRADER_GPU_WORKERS": "false",
            "GRADER_DATA_DIR": str(log_dir / "var"),
            "GRADER_SECRET_KEY": uuid.uuid4().hex,
        }

    # ------------------------------------------------------------------ database and broker

    def create_database(self) -> None:
        from sqlalchemy import create_engine, text

        from grader.db.session import migrate_to_head

        engine = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.database}"'))
        engine.dispose()
        migrate_to_head(self.database_url)

    def drop_database(self) -> None:
        from sqlalchemy import create_engine, text

        from grader.db.session import engine_for

        engine_for(self.database_url).dispose()
        engine = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        engine.dispose()

    def broker_keys(self) -> list[bytes]:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        try:
            return list(client.scan_iter(match=f"{self.key_prefix}*", count=1000))
        finally:
            client.close()

    def purge_broker(self) -> int:
        """Delete our queued messages (and every other key under our prefix); how many keys."""
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(match=f"{self.key_prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            return len(keys)
        finally:
            client.close()

    # ------------------------------------------------------------------ processes

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
        env.update(self.env)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return env

    def start_api(self, wait: bool = True) -> None:
        log = (self.log_dir / "api.log").open("ab")
        self.api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "grader.api.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=self._child_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        if wait:
            self.wait_api()

    def wait_api(self) -> None:
        import httpx

        def up() -> bool:
            if self.api is not None and self.api.poll() is not None:
                raise RuntimeError(f"the API exited: {(self.log_dir / 'api.log').read_text()[-2000:]}")
            try:
                return httpx.get(f"{self.base_url}/api/auth/me", timeout=2).status_code == 401
            except httpx.HTTPError:
                return False

        _wait(up, READY_TIMEOUT_S, "the API")

    def start_worker(self) -> None:
        log_path = self.log_dir / "worker.log"
        log = log_path.open("ab")
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", "cpu", "--pool", "prefork",
             "--concurrency", str(self.workers), "--hostname", f"{self.worker_name}@%h", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env={**self._child_env(), **self.worker_env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> bool:
            if self.worker is not None and self.worker.poll() is not None:
                raise RuntimeError(f"the worker exited: {log_path.read_text(errors='replace')[-3000:]}")
            pools = memory.children_map().get(self.worker.pid, [])  # type: ignore[union-attr]
            return len(pools) >= self.workers

        _wait(ready, READY_TIMEOUT_S, "the worker's pool processes")

    def worker_classify(self, pid: int, command: str, depth: int) -> str | None:
        if depth == 0:
            return "worker_main"
        return {1: "worker", 2: "fork_server"}.get(depth, "sandbox")

    @staticmethod
    def _stop(process: subprocess.Popen | None) -> None:
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def stop(self) -> None:
        self._stop(self.worker)
        self._stop(self.api)


def _status(db, ids: list[int]) -> dict[int, str]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from grader.db.models import Submission as Row

    db.rollback()
    return {i: str(s) for i, s in db.execute(select(Row.id, Row.status).where(Row.id.in_(ids))).all()}


def _wait_graded(db, ids: list[int], timeout: float) -> dict[int, str]:  # type: ignore[no-untyped-def]
    def done() -> dict[int, str] | None:
        found = _status(db, ids)
        return found if all(found.get(i) in FINISHED for i in ids) else None

    return _wait(done, timeout, f"{len(ids)} submission(s) to be graded", interval=POLL_S)  # type: ignore[return-value]


def run_service(population: list[Submission], rubrics_dir: Path, log_dir: Path, workers: int, singles: int,
                batch: int, call_timeout_s: float, progress: Callable[[str], None],
                floor: Callable[[Submission], float] | None = None, worker_env: dict[str, str] | None = None) -> dict:
    """`floor(submission)` (seconds, in-process) is measured right before each single upload, so
    each latency has its own floor taken under the same conditions."""
    import httpx

    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(rubrics_dir, log_dir, workers, worker_env)
    result: dict = {"workers": workers, "database": stack.database, "broker": REDIS_URL,
                    "key_prefix": stack.key_prefix}
    with _environment(stack.env):
        from grader.db.models import Assignment
        from grader.db.session import session_scope
        from grader.services import courses, submissions, users

        stack.create_database()
        try:
            # ---------------------------------------------------------- a class and its stored work
            with session_scope() as db:
                tag = uuid.uuid4().hex[:6]
                instructor = users.create_user(db, f"prof-{tag}@bench.edu", "Bench Instructor", "instructor")
                course = courses.create_course(db, f"BENCH-{tag}", "Benchmark course")
                courses.enroll(db, instructor, course, "instructor")
                roster = []
                for i in range(max(1, min(100, batch // 10))):
                    student = users.create_user(db, f"s{i:03d}-{tag}@bench.edu", f"Student {i:03d}", "student")
                    courses.enroll(db, student, course, "student")
                    roster.append(student)
                assignment = courses.create_assignment(db, course, "hw2", "HW2", "hw2")
                assignment_id = assignment.id
                student_token = users.issue_token(db, roster[0], label="bench")
                instructor_token = users.issue_token(db, instructor, label="bench")
                progress(f"service: storing {batch} submissions through the services (no worker running yet)")
                started = time.perf_counter()
                jobs = [population[i % len(population)] for i in range(batch)]
                stored: list[tuple[int, Submission]] = []
                for i, sub in enumerate(jobs):
                    assignment = db.get(Assignment, assignment_id)
                    row = submissions.submit(db, roster[i % len(roster)], assignment, sub.filename, sub.data)
                    stored.append((row.id, sub))
                result["store_s"] = round(time.perf_counter() - started, 2)
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
                _wait_graded(db, warm, READY_TIMEOUT_S + 60 * call_timeout_s)

                # ---------------------------------------------------------- single uploads, idle system
                rows = []
                for i in range(singles):
                    sub = singles_pool[i % len(singles_pool)]
                    floor_s = floor(sub) if floor is not None else None
                    wall_clock = time.time()
                    started = time.perf_counter()
                    sid = upload(sub)
                    uploaded = time.perf_counter() - started
                    _wait_graded(db, [sid], READY_TIMEOUT_S + 60 * call_timeout_s)
                    detail = client.get(f"/api/submissions/{sid}", headers=student_auth)
                    detail.raise_for_status()
                    latency = time.perf_counter() - started
                    body = detail.json()
                    run = _latest_run(db, sid)
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

                # ---------------------------------------------------------- batch regrade
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
            client.close()
        finally:
            stack.stop()
            try:
                result["broker_keys_deleted"] = stack.purge_broker()
            finally:
                stack.drop_database()
                shutil.rmtree(log_dir / "var", ignore_errors=True)
    return result


def _latest_run(db, submission_id: int):  # type: ignore[no-untyped-def]
    """(started_at, duration_s) of the submission's latest grading run, or None."""
    from sqlalchemy import select

    from grader.db.models import GradingRun

    db.rollback()
    return db.execute(select(GradingRun.started_at, GradingRun.duration_s)
                      .where(GradingRun.submission_id == submission_id)
                      .order_by(GradingRun.id.desc()).limit(1)).first()


def _batch_figures(db, stored: list[tuple[int, Submission]], state: dict, wall: float, workers: int,  # type: ignore[no-untyped-def]
                   call_timeout_s: float) -> dict:
    """Throughput, statuses, and per-category worker time from the grading runs of the batch."""
    from sqlalchemy import func, select

    from grader.db.models import GradingRun

    ids = [sid for sid, _ in stored]
    category = {sid: sub.category for sid, sub in stored}
    statuses = _status(db, ids)
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
