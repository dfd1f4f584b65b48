"""Every answer forbids framing (clickjacking) and content-type sniffing."""

from __future__ import annotations

from collections.abc import Callable

from tests.fixtures.services import Stack
from tests.web.support import Klass, LiveServer, http_client

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
}


def test_pages_api_and_files_forbid_framing_and_sniffing(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]
) -> None:
    student = make_klass(shared_sqlite_stack).students[0]
    with http_client(sqlite_server.url) as client:
        answers = [
            client.get("/login"),
            client.get("/"),  # a redirect to the login page
            client.get("/no-such-page"),
            client.get("/static/app.css"),
            client.get("/docs"),
            client.get("/api/auth/me"),  # 401
            client.get("/api/auth/me", headers=student.headers),
            client.post("/api/auth/token", json={}),  # 422
        ]
    for answer in answers:
        sent = {name: answer.headers.get(name) for name in SECURITY_HEADERS}
        assert sent == SECURITY_HEADERS, (answer.request.url, answer.status_code)
