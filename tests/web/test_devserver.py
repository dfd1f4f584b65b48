"""`make run` (python -m grader.devserver): from an empty data folder to a graded upload and the
operators' commands on it, then Ctrl-C stops the server and its worker; a busy port stops it before
anything starts."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from grader import devserver
from grader.config import PROJECT_ROOT, get_settings
from harness.servers import free_port
from tests.fixtures.services import wait_until
from tests.service.helpers import REFERENCE
from tests.web.support import http_client

START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 45


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line names `text` (the worker's beat schedule lives in the data folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _answers(api: httpx.Client) -> bool:
    try:
        return api.get("/auth/me").status_code == 200
    except httpx.TransportError:
        return False


def _environment(data_dir: Path, **variables: str) -> dict[str, str]:
    """A laptop's: no GRADER_* setting but the data folder, and the session's fork-server template,
    which changes how the worker's fork server starts and nothing `make run` does."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_") or k == "GRADER_SANDBOX_TEMPLATE"}
    return {**kept, "GRADER_DATA_DIR": str(data_dir), **variables}


@contextlib.contextmanager
def _settings_of(env: dict[str, str]) -> Iterator[None]:
    """This process's GRADER_* settings are those of `env` inside the block."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [k for k in os.environ if k.startswith("GRADER_")]:
            patch.delenv(name)
        for name, value in env.items():
            if name.startswith("GRADER_"):
                patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield
        finally:
            patch.undo()
            get_settings.cache_clear()


def test_make_run_seeds_serves_grades_and_stops_cleanly(tmp_path: Path, grader_cli: Callable[..., Result]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "devserver.log"
    env = _environment(tmp_path, GRADER_PORT=str(port))
    with log_path.open("wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "grader.devserver"], cwd=PROJECT_ROOT,
                                  env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: "Serving on" in log_path.read_text(), START_TIMEOUT_S, "the dev server to start")
        output = log_path.read_text()
        assert f"Serving on {url} (pages)" in output
        assert re.search(r"admin\s+admin@example\.edu\s+password admin-demo\s+API token grd_", output)
        assert re.search(r"instructor\s+instructor@example\.edu\s+password instructor-demo\s+API token grd_", output)
        student = re.search(r"student@example\.edu\s+password student-demo\s+API token (\S+)", output)
        assert student, output
        token = student.group(1)
        with http_client(f"{url}/api", headers={"Authorization": f"Bearer {token}"}) as api:
            wait_until(lambda: _answers(api), START_TIMEOUT_S, "the API to answer")
            [assignment] = api.get("/assignments").json()
            upload = api.post(f"/assignments/{assignment['id']}/submissions", files={"file": ("hw2.py", REFERENCE)})
            assert upload.status_code == 202, log_path.read_text()[-4000:]  # the server's log says why
            sid = upload.json()["id"]
            wait_until(lambda: api.get(f"/submissions/{sid}").json()["feedback"]["status"] == "graded",
                       START_TIMEOUT_S, "the demo worker to grade the upload", interval=0.5)
        assert _processes_mentioning(str(tmp_path))  # the worker runs with its beat schedule in the data folder

        # The operators' commands, with the server's settings, act as the demo admin.
        with _settings_of(env):
            scores = grader_cli("scores", "hw2", "--csv")
            assert scores.exit_code == 0, scores.stderr
            assert "student@example.edu" in scores.stdout
            regrade = grader_cli("regrade", "hw2", "--all")
            assert regrade.exit_code == 0, regrade.stderr
            assert "1/1" in regrade.stdout and "No score changed." in regrade.stdout
        server.send_signal(signal.SIGINT)
        server.wait(timeout=STOP_TIMEOUT_S)
        wait_until(lambda: not _processes_mentioning(str(tmp_path)), STOP_TIMEOUT_S, "the worker to stop")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        for pid in _processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)


def test_a_busy_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        ways = (("--port", ["--port", str(port)], {}), ("GRADER_PORT", [], {"GRADER_PORT": str(port)}))
        for how, args, variables in ways:
            data_dir = tmp_path / how
            done = subprocess.run([sys.executable, "-m", "grader.devserver", *args], cwd=PROJECT_ROOT,
                                  env=_environment(data_dir, **variables), capture_output=True, text=True,
                                  timeout=START_TIMEOUT_S)
            assert done.returncode == 2, how
            assert f"error: cannot serve on 127.0.0.1:{port}: port {port} is in use" in done.stderr, done.stderr
            assert "GRADER_PORT=PORT" in done.stderr and "--port PORT" in done.stderr
            assert "Serving on" not in done.stdout and "Seeded" not in done.stdout
            assert not data_dir.exists()  # no database, no worker: nothing started


@pytest.mark.parametrize("port", ["-1", "70000"])
def test_a_port_out_of_range_is_refused_before_anything_starts(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        devserver.main(["--port", port])
    assert exited.value.code == 2
    assert f"argument --port: {port} is not a port: choose one from 1 to 65535" in capsys.readouterr().err


@pytest.mark.parametrize(("variable", "value"), [("GRADER_PORT", "abc"), ("GRADER_SANDBOX_THREADS", "0")])
def test_an_invalid_setting_is_named_before_anything_starts(variable: str, value: str, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`GRADER_PORT=abc make run` ended in pydantic's 20-line traceback."""
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            devserver.main([])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"error: invalid setting {variable}:" in err and "Traceback" not in err, err
    assert value not in err.split(variable, 1)[1]  # a setting's value may be a secret: never echoed
