"""The grader's HTTP API as the student commands use it, with every failure turned into a message
that says what to do (log in again, wait, name the course)."""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path
from typing import Any

import httpx

from grader.client.errors import ClientError

TIMEOUT_S = 30.0
UPLOAD_TIMEOUT_S = 300.0  # a notebook server's uplink can be slow


def check_server(url: str) -> str:
    """The server's base URL without a trailing slash: https, or plain http to this machine only
    (`make run`'s), since the password and then the token go in every request."""
    server = url.strip().rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise ClientError(f"--server {url!r}: give the grader's address, e.g. https://grader.example.edu")
    try:
        host = httpx.URL(server).host
    except httpx.InvalidURL as exc:
        raise ClientError(f"--server {url!r}: not an address ({exc})") from None
    if server.startswith("http://") and not _is_this_machine(host):
        https = "https://" + server.removeprefix("http://")
        raise ClientError(f"--server {url!r}: plain http:// would send your password and token unencrypted: "
                          f"use {https} (http:// is for a grader on this machine only)")
    return server


def _is_this_machine(host: str) -> bool:
    """localhost or a loopback address (127.0.0.1, ::1)."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost
        return False


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
            # A redirect is reported, never followed: the password or the token would go wherever it points.
            base_url=f"{server}/api", timeout=TIMEOUT_S, follow_redirects=False,
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
        if response.is_redirect:
            raise ClientError(self._redirected(response, path))
        if response.status_code == 401 and "Authorization" in self.http.headers:
            raise ClientError(f"your login to {self.server} has expired or was revoked: "
                              f"run `grader login --server {self.server}` again")
        hint = _wait_hint(response) if response.status_code == 429 else ""
        raise ClientError(_detail(response) + hint)

    def _redirected(self, response: httpx.Response, path: str) -> str:
        """Where the server sends its clients (a plain-http address to its https one, most often), and
        the --server that reaches it: the Location without the API path asked for."""
        target = response.url.join(response.headers["Location"]).copy_with(query=None, fragment=None)
        server = str(target).removesuffix(f"/api{path}")
        return (f"{self.server} redirects to {target}, which is not followed: if that is your grader, "
                f"log in with `grader login --server {server}`")

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
