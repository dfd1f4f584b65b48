"""`make run`: the whole service on one machine, from an empty checkout, until Ctrl-C.

Takes its port first (--port, else GRADER_PORT, else 8000), so a busy port ends it before anything
starts. Then migrates the configured database, seeds the demo course into an empty one (and prints its
logins), then runs a Celery worker subprocess (both queues) and the API with uvicorn in this
process. Ctrl-C (or SIGTERM) stops uvicorn, then the worker gets a warm shutdown and a deadline.
Defaults are SQLite files under var/; GRADER_DATABASE_URL and GRADER_BROKER_URL point it at
PostgreSQL and Redis instead.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys

import uvicorn
from pydantic import ValidationError
from sqlalchemy import select

from grader.cli_errors import explain
from grader.config import PROJECT_ROOT, Settings, get_settings
from grader.db.models import User
from grader.db.session import session_scope, upgrade_schema
from grader.services.seed import DEMO_PEOPLE, seed_demo

WORKER_STOP_TIMEOUT_S = 30


def seed_if_empty(base_url: str) -> None:
    """A fresh database gets the demo course; the logins are printed either way."""
    with session_scope() as db:
        if db.scalar(select(User.id).limit(1)) is None:
            demo = seed_demo(db)
            db.commit()  # the whole demo in one transaction: a failed seeding leaves the database empty
            print(f"Seeded the demo course {demo['course'].code} with {demo['assignment'].title!r}.")
            for key in DEMO_PEOPLE:
                person = demo[key]
                print(f"  {key:10}  {person['email']}  password {person['password']}  API token {person['token']}")
            return
    print("Existing database; the demo logins (if it was seeded) are:")
    for key, (email, _name, _role, password) in DEMO_PEOPLE.items():
        print(f"  {key:10}  {email}  password {password}")
    print(f"  API tokens: POST {base_url}/api/auth/token with an email and password.")


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, taken before anything starts (uvicorn serves on it)."""
    try:
        return socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        reason = f"port {port} is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        print(f"error: cannot serve on {host}:{port}: {reason}; choose another port with "
              "`make run GRADER_PORT=PORT` (or `python -m grader.devserver --port PORT`)", file=sys.stderr)
        sys.exit(2)


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """One worker on both queues with the reconciler's beat, in its own session: Ctrl-C is ours to relay."""
    command = [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker", "-Q", "cpu,gpu",
        "--concurrency", "1", "--beat", "--schedule", str(settings.data_dir / "celerybeat-schedule"),
        "--hostname", "dev@%h", "--loglevel", "INFO",
    ]
    return subprocess.Popen(command, cwd=PROJECT_ROOT, start_new_session=True)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (running grading finishes), then a kill of its whole process group."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=WORKER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(f"worker still busy after {WORKER_STOP_TIMEOUT_S} s: killing it", file=sys.stderr)
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    worker.wait()


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """uvicorn re-raises the SIGTERM it caught after shutting down; exit through `finally` instead of dying."""
    raise SystemExit(128 + signum)


def port_number(text: str) -> int:
    """--port's value: a TCP port, which the socket layer would refuse with a traceback."""
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: choose one from 1 to 65535")
    return port


def read_settings() -> Settings:
    """The settings, or the variable to fix named on one line (never its value) and exit 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        print(f"error: {explain(exc) or exc}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    settings = read_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=settings.port, help="default: GRADER_PORT, else 8000")
    args = parser.parse_args(argv)
    base_url = f"http://{args.host}:{args.port}"
    listener = listen(args.host, args.port)

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_schema(settings.resolved_database_url)
    seed_if_empty(base_url)
    worker = start_worker(settings)
    print(f"Serving on {base_url} (pages), {base_url}/docs (API). Ctrl-C stops the server and the worker.")
    try:
        config = uvicorn.Config("grader.api.main:create_app", factory=True, host=args.host, port=args.port)
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        stop_worker(worker)


if __name__ == "__main__":
    main()
