"""The service stack of one benchmark run, set up and torn down: a fresh PostgreSQL database
(migrated, dropped at the end), a Redis key prefix of our own (our keys deleted at the end), the API
(uvicorn) and one `celery worker` with its pool processes, all as real processes. The service and
pages sections share one stack: each starts what it needs that is not running yet, and the run
closes it after both."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks import memory
from benchmarks.population import ROOT
from harness.servers import create_postgres_database, drop_postgres_database, free_port, wait_until

POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
READY_TIMEOUT_S = 120


def unavailable() -> str | None:
    """Why the service part cannot run here (None if it can): PostgreSQL or Redis out of reach.
    The API and the worker import the service layer in their own processes, and a failure there
    ends the section with their log."""
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


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
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

    def __init__(
        self, rubrics_dir: Path, log_dir: Path, workers: int, worker_env: dict[str, str] | None = None
    ) -> None:
        self.worker_env = dict(worker_env or {})
        self.database_url = ""  # create_database makes one
        self.key_prefix = f"bench-{os.getpid()}_{uuid.uuid4().hex[:8]}:"
        self.rubrics_dir, self.log_dir, self.workers = rubrics_dir, log_dir, workers
        self.port = free_port()
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

    @property
    def database(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).database or ""

    def create_database(self) -> None:
        """A new database, migrated, unless the stack has one; the stack's environment points at it."""
        from grader.db.session import upgrade_schema

        if self.database_url:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = create_postgres_database(POSTGRES_SERVER, "bench")
        self.env["GRADER_DATABASE_URL"] = self.database_url
        upgrade_schema(self.database_url)

    def drop_database(self) -> None:
        from grader.db.session import engine_for

        if self.database_url:
            engine_for(self.database_url).dispose()
            drop_postgres_database(POSTGRES_SERVER, self.database_url)

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
        """Start the API unless it runs already."""
        if self.api is not None and self.api.poll() is None:
            return
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

        wait_until(up, READY_TIMEOUT_S, "the API")

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

        wait_until(ready, READY_TIMEOUT_S, "the worker's pool processes")

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

    def stop_worker(self) -> None:
        self._stop(self.worker)

    def close(self) -> None:
        """Every process stopped, our broker keys deleted, the database dropped."""
        try:
            self._stop(self.worker)
            self._stop(self.api)
            self.purge_broker()
        finally:
            self.drop_database()
            shutil.rmtree(self.log_dir / "var", ignore_errors=True)
