"""`make run` (python -m grader.devserver): from an empty data folder to a graded upload, then
Ctrl-C stops the server and its worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from grader.config import PROJECT_ROOT
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


def test_make_run_seeds_serves_grades_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "devserver.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}, "GRADER_DATA_DIR": str(tmp_path)}
    with log_path.open("wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "grader.devserver", "--port", str(port)], cwd=PROJECT_ROOT,
                                  env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: "Serving on" in log_path.read_text(), START_TIMEOUT_S, "the dev server to start")
        output = log_path.read_text()
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
        server.send_signal(signal.SIGINT)
        server.wait(timeout=STOP_TIMEOUT_S)
        wait_until(lambda: not _processes_mentioning(str(tmp_path)), STOP_TIMEOUT_S, "the worker to stop")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        for pid in _processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)
