"""A request body is never read before its sender is known, nor past the server's cap.

Each request here is written by hand on a socket and its body is never finished: the answer must
come back while the body is still being sent (a server that waited for it would never answer).
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.fixtures.services import Stack
from tests.web.support import PASSWORD, Klass, LiveServer, Person, http_client

ANSWER_TIMEOUT_S = 30  # a server that waits for the rest of the body never answers at all
DECLARED = 300_000_000
CHUNK = 4096
BOUNDARY = "grader-test-boundary"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Answer:
    status: int
    head: str
    sent: int  # body bytes the client had sent when the answer's head arrived


def _multipart_start(csrf_token: str | None = None) -> bytes:
    fields = ""
    if csrf_token is not None:
        fields = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf_token}\r\n'
    return (fields + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="hw2.py"\r\n'
            "Content-Type: text/x-python\r\n\r\n").encode()


def _raw_body(size: int) -> Iterator[bytes]:
    """`size` bytes of a Python comment, in chunks."""
    while size > 0:
        yield b"#" * min(CHUNK, size)
        size -= CHUNK


def _chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Transfer-Encoding: chunked framing, never with the final empty chunk (the body never ends)."""
    for piece in pieces:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"


def _framed(headers: dict[str, str], pieces: Iterable[bytes]) -> Iterable[bytes]:
    return _chunked(pieces) if "Transfer-Encoding" in headers else pieces


def send_unfinished(server: LiveServer, path: str, headers: dict[str, str], body: Iterable[bytes]) -> Answer:
    """Send the head, then `body` from a thread until the answer arrives; the body is never completed."""
    address = urlsplit(server.url)
    sock = socket.create_connection((address.hostname, address.port), timeout=ANSWER_TIMEOUT_S)
    head = f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    sock.sendall(head.encode())
    answered = threading.Event()
    sent = 0

    def send_body() -> None:
        nonlocal sent
        try:
            for piece in body:
                if answered.is_set():
                    return
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            return  # the server closed the connection after answering

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    except TimeoutError:
        pytest.fail(f"no answer within {ANSWER_TIMEOUT_S} s: the server waits for a body that never ends")
    finally:
        answered.set()
        sent_at_answer = sent
        sock.close()
        sender.join(timeout=5)
    head_text = received.split(b"\r\n\r\n")[0].decode("latin-1")
    assert head_text.startswith("HTTP/1.1 "), f"not an HTTP answer: {received[:200]!r}"
    return Answer(int(head_text.split()[1]), head_text.lower(), sent_at_answer)


def _upload_headers(person: Person | None = None, cookie: str | None = None, length: int | None = None) -> dict:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    headers |= {"Content-Length": str(length)} if length is not None else {"Transfer-Encoding": "chunked"}
    if person is not None:
        headers["Authorization"] = f"Bearer {person.token}"
    if cookie is not None:
        headers["Cookie"] = f"grader_session={cookie}"
    return headers


def _upload_paths(klass: Klass) -> tuple[str, str]:
    """The API's upload route and the upload page's form target."""
    page = f"/assignments/{klass.assignment_id}/submissions"
    return "/api" + page, page


@pytest.fixture
def klass(shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]) -> Klass:
    return make_klass(shared_sqlite_stack)


@pytest.fixture
def logged_in(sqlite_server: LiveServer, klass: Klass) -> tuple[str, str]:
    """(session cookie, CSRF token) of the first student, logged in through the login page."""
    with http_client(sqlite_server.url) as browser:
        token = CSRF.search(browser.get("/login").text).group(1)  # type: ignore[union-attr]
        browser.post("/login", data={"email": klass.students[0].email, "password": PASSWORD, "csrf_token": token})
        form = browser.get(f"/assignments/{klass.assignment_id}")
        return browser.cookies["grader_session"], CSRF.search(form.text).group(1)  # type: ignore[union-attr]


def test_an_upload_declared_too_large_is_refused_before_its_body(
    sqlite_server: LiveServer, klass: Klass, logged_in: tuple[str, str]
) -> None:
    api_path, page_path = _upload_paths(klass)
    cookie, csrf = logged_in
    for path, headers, start in (
        (api_path, _upload_headers(length=DECLARED), _multipart_start()),
        (api_path, _upload_headers(klass.students[0], length=DECLARED), _multipart_start()),
        (page_path, _upload_headers(cookie=cookie, length=DECLARED), _multipart_start(csrf)),
    ):
        answer = send_unfinished(sqlite_server, path, headers, [start, *_raw_body(4 * CHUNK)])
        assert answer.status == 413, (path, answer.head)


def test_an_unauthenticated_upload_is_refused_before_its_body(sqlite_server: LiveServer, klass: Klass) -> None:
    api_path, page_path = _upload_paths(klass)
    forged = Person("nobody@web.test", "Nobody", "grd_not-a-token")
    for path, headers, status in (
        (api_path, _upload_headers(), 401),  # chunked, no Content-Length
        (api_path, _upload_headers(forged), 401),
        (api_path, _upload_headers(length=500_000), 401),  # a size the server would accept
        (page_path, _upload_headers(), 403),
        (page_path, _upload_headers(cookie="forged-cookie"), 403),
    ):
        body = _framed(headers, [_multipart_start(), *_raw_body(4 * CHUNK)])
        answer = send_unfinished(sqlite_server, path, headers, body)
        assert answer.status == status, (path, headers, answer.head)
        if path == api_path:
            assert "www-authenticate: bearer" in answer.head


def test_a_body_past_the_cap_is_refused_while_it_streams(
    sqlite_server: LiveServer, klass: Klass, logged_in: tuple[str, str]
) -> None:
    """Authenticated, chunked, no Content-Length: 413 once the cap is passed, not at the body's end."""
    cookie, csrf = logged_in
    for path, headers, start, content_type in (
        (f"/api/assignments/{klass.assignment_id}/submissions", _upload_headers(klass.students[0]),
         _multipart_start(), "application/json"),
        (f"/assignments/{klass.assignment_id}/submissions", _upload_headers(cookie=cookie),
         _multipart_start(csrf), "text/html"),
    ):
        endless = _chunked([start, *_raw_body(DECLARED)])
        answer = send_unfinished(sqlite_server, path, headers, endless)
        assert answer.status == 413, (path, answer.head)
        assert f"content-type: {content_type}" in answer.head
        assert answer.sent < DECLARED // 10  # refused near the cap, far short of the declared 300 MB
