"""The instructor's scores page of a large class: its weight, and how long it takes on the server and
in Chromium.

1. A course of its own in the run's database (benchmarks/service_stack.py; the service section's
   course may be there too): an instructor who logs in with a password, `--students` students
   written straight into the database as grading leaves them (`harness.classes`: nine in ten with a
   graded submission, a third of those graded by hand too) and HW2 on the benchmark's rubric copy.
2. The run's API (uvicorn) on it; the instructor logs in through the login form.
3. Server time: GET /assignments/{id}/scores over one keep-alive connection, `--page-loads` times
   after one warm-up: the round trip on loopback, which is the server's time to answer.
4. Weight: the page's HTML, and everything Chromium loads for it from an empty cache (HTML and CSS).
5. Chromium: the page loaded `--page-loads` times, each in a fresh browser context (no cache),
   from the navigation's start to its load event (Navigation Timing).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from benchmarks.service_stack import Stack, environment
from benchmarks.stats import summarize_ms

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "bench-instructor-password"
LOAD_TIMING = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const bytes = [nav, ...performance.getEntriesByType("resource")].reduce((sum, e) => sum + e.encodedBodySize, 0);
  return {load_ms: nav.loadEventEnd - nav.startTime, response_ms: nav.responseEnd - nav.requestStart,
          bytes: bytes, rows: document.querySelectorAll("table.gradebook tbody tr").length};
}"""


def _seed_class(students: int) -> tuple[int, str]:
    """(assignment id, instructor email) of a new course of `students` graded students."""
    from grader.db.session import session_scope
    from grader.services import assignments, courses, rubrics, users
    from harness.classes import seed_graded_class

    tag = uuid.uuid4().hex[:6]
    email = f"prof-{tag}@bench.edu"
    with session_scope() as db:
        instructor = users.create_user(db, email, "Bench Instructor", "instructor", PASSWORD)
        course = courses.create_course(db, instructor, f"PAGES-{tag}", "Benchmark course")  # the creator teaches it
        assignment = assignments.create_assignment(db, instructor, course, "hw2", "hw2",
                                                   assignments.AssignmentSettings(title="HW2"))
        seed_graded_class(db, assignment, rubrics.published(db, assignment), students, tag=tag)
        db.commit()
        return assignment.id, email


def _log_in(client, email: str) -> None:  # type: ignore[no-untyped-def]
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token, "no CSRF field on the login page"
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token[1]})
    if answer.status_code != 303:
        raise RuntimeError(f"the instructor could not log in: {answer.status_code} {answer.text[:200]}")


def _server_times(client, path: str, loads: int) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    """Seconds of each GET after a warm-up one, and the HTML's bytes."""
    warm = client.get(path)
    warm.raise_for_status()
    times = []
    for _ in range(loads):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append(time.perf_counter() - started)
    return times, len(warm.content)


def _chromium_loads(url: str, cookies: list[dict], loads: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            timings = []
            for _ in range(loads + 1):  # the first one warms the browser up
                context = browser.new_context(viewport=VIEWPORT)
                context.add_cookies(cookies)  # type: ignore[arg-type]
                page = context.new_page()
                page.goto(url, wait_until="load")
                timings.append(page.evaluate(LOAD_TIMING))
                context.close()
            return timings[1:]
        finally:
            browser.close()


def run_pages(stack: Stack, students: int, loads: int, progress: Callable[[str], None]) -> dict:
    """The figures of the scores page, on the run's stack (its API started if the service section
    has not started it; no worker is needed)."""
    import httpx

    stack.create_database()
    result: dict = {"students": students, "loads": loads, "database": stack.database}
    with environment(stack.env):
        started = time.perf_counter()
        assignment_id, email = _seed_class(students)
        result["seed_s"] = round(time.perf_counter() - started, 2)
        stack.start_api()
        path = f"/assignments/{assignment_id}/scores"
        with httpx.Client(base_url=stack.base_url, timeout=60) as client:
            _log_in(client, email)
            times, html_bytes = _server_times(client, path, loads)
            cookies = [{"name": c.name, "value": c.value or "", "url": stack.base_url} for c in client.cookies.jar]
        result["server"] = summarize_ms(times)
        result["html_bytes"] = html_bytes
        progress(f"pages: scores page of {students} students: {html_bytes:,} bytes of HTML, server p50 "
                 f"{result['server']['p50_ms']} ms")
        if not CHROMIUM.exists():
            result["chromium_skipped"] = f"{CHROMIUM} is missing (scripts/ensure-chromium.sh installs it)"
            return result
        timings = _chromium_loads(stack.base_url + path, cookies, loads)
        result["chromium"] = {
            "load": summarize_ms(t["load_ms"] / 1000 for t in timings),
            "response": summarize_ms(t["response_ms"] / 1000 for t in timings),
            "bytes": timings[0]["bytes"],
            "rows_shown": timings[0]["rows"],
        }
        progress(f"pages: Chromium loads it in {result['chromium']['load']['p50_ms']} ms (p50), "
                 f"{timings[0]['bytes']:,} bytes in all, {timings[0]['rows']} rows shown")
    return result
