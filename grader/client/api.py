"""The grader's HTTP API as the student commands use it, with every failure turned into a message
that says what to do (log in again, wait, name the course)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx

from grader.client.errors import ClientError

TIMEOUT_S = 30.0
UPLOAD_TIMEOUT_S = 300.0  # a notebook server's uplink can be slow


def check_server(url: str) -> str:
    """The server's base URL without a trailing slash; only http(s) URLs are accepted."""
    server = url.strip().rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise ClientError(f"--server {url!r}: give the grader's address, e.g. https://grader.example.edu")
    return server


def _wait_hint(response: httpx.Response) -> str:
    """How long a 429 asks the client to wait (its Retry-After header), in words."""
    retry_after = response.headers.get("Retry-After", "")
    if not retry_after.isdigit():
        return ""
    seconds = int(retry_after)
    return f" (retry after {seconds} s)" if seconds < 120 else f" (retry after {math.ceil(seconds / 60)} min)"


def _not_a_grader(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase} from {response.url}: is this a grader server?"


def _detail(response: httpx.Response) -> str:
    """The server's message: `detail` (one string, or request validation's list), else the status."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str) and not (response.status_code == 404 and detail == "Not Found"):  # no such route
        return detail
    if isinstance(detail, list):
        return "; ".join(str(issue.get("msg", issue)) if isinstance(issue, dict) else str(issue) for issue in detail)
    return _not_a_grader(response)


class GraderApi:
    """One server, as one person (the token), or anonymous to log in."""

    def __init__(self, server: str, token: str | None = None) -> None:
        self.server = server
        self.http = httpx.Client(
            base_url=f"{server}/api", timeout=TIMEOUT_S,
            headers={"Authorization": f"Bearer {token}"} if token is not None else {},
        )

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = self.http.request(method, path, **options)
        except httpx.TimeoutException:
            raise ClientError(f"the grader at {self.server} did not answer in time: try again later") from None
        except httpx.TransportError as exc:
            raise ClientError(f"cannot reach the grader at {self.server}: {exc or type(exc).__name__}") from None
        if response.is_success:
            try:
                return response.json()
            except ValueError:
                raise ClientError(_not_a_grader(response)) from None
        if response.status_code == 401 and "Authorization" in self.http.headers:
            raise ClientError(f"your login to {self.server} has expired or was revoked: "
                              f"run `grader login --server {self.server}` again")
        hint = _wait_hint(response) if response.status_code == 429 else ""
        raise ClientError(_detail(response) + hint)

    def issue_token(self, email: str, password: str, label: str) -> dict[str, Any]:
        """POST /auth/token: {access_token, id, expires_at}."""
        token: dict[str, Any] = self._request("POST", "/auth/token",
                                              json={"email": email, "password": password, "label": label})
        return token

    def me(self) -> dict[str, Any]:
        """GET /auth/me: who the token belongs to."""
        user: dict[str, Any] = self._request("GET", "/auth/me")
        return user

    def find_assignment(self, slug: str, course: str | None) -> dict[str, Any]:
        """The one assignment of the student's courses called `slug` (in `course`, if given)."""
        params = {"slug": slug} if course is None else {"slug": slug, "course": course}
        found: list[dict[str, Any]] = self._request("GET", "/assignments", params=params)
        if len(found) == 1:
            return found[0]
        if found:
            codes = ", ".join(a["course_code"] for a in found)
            raise ClientError(f"{len(found)} of your courses have an assignment {slug!r} ({codes}): "
                              "name one with --course CODE")
        mine: list[dict[str, Any]] = self._request("GET", "/assignments")
        where = f" in {course}" if course is not None else ""
        known = ", ".join(f"{a['slug']} ({a['course_code']})" for a in mine) or "none"
        raise ClientError(f"no assignment {slug!r}{where} in your courses; yours: {known}")

    def upload(self, assignment_id: int, path: Path) -> dict[str, Any]:
        """POST the file; {id, status} once it is stored and queued."""
        with path.open("rb") as file:
            try:
                accepted: dict[str, Any] = self._request(
                    "POST", f"/assignments/{assignment_id}/submissions",
                    files={"file": (path.name, file)}, timeout=UPLOAD_TIMEOUT_S,
                )
            except ClientError as exc:
                raise ClientError(f"{path.name} was not accepted: {exc.message}") from None
        return accepted

    def submission(self, submission_id: int) -> dict[str, Any]:
        """GET /submissions/{id}: {submission, feedback} as this student may see them."""
        detail: dict[str, Any] = self._request("GET", f"/submissions/{submission_id}")
        return detail

    def submissions(self, assignment_id: int) -> list[dict[str, Any]]:
        """The student's own submissions to the assignment, newest first."""
        rows: list[dict[str, Any]] = self._request("GET", "/submissions", params={"assignment_id": assignment_id})
        return rows
