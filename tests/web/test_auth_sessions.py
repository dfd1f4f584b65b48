"""Sessions and API tokens can be ended: logout kills the cookie, tokens expire and can be revoked."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from grader.config import get_settings
from grader.db.models import ApiToken
from grader.db.session import session_scope
from grader.services import users
from tests.fixtures.services import Stack
from tests.web.support import PASSWORD, Klass, LiveServer, Person, api, http_client

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match, "no CSRF field on the page"
    return match.group(1)


@pytest.fixture
def klass(shared_sqlite_stack: Stack, make_klass: Callable[..., Klass]) -> Klass:
    return make_klass(shared_sqlite_stack)


def test_a_session_cookie_replayed_after_logout_is_refused(sqlite_server: LiveServer, klass: Klass) -> None:
    with http_client(sqlite_server.url) as browser:
        token = _csrf(browser.get("/login"))
        browser.post("/login", data={"email": klass.students[0].email, "password": PASSWORD, "csrf_token": token})
        home = browser.get("/")
        assert home.status_code == 200
        stolen, stolen_csrf = browser.cookies["grader_session"], _csrf(home)
        assert browser.post("/logout", data={"csrf_token": stolen_csrf}).status_code == 303
    with http_client(sqlite_server.url, cookies={"grader_session": stolen}) as replay:
        assert replay.get("/api/auth/me").status_code == 401
        page = replay.get(f"/assignments/{klass.assignment_id}")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        upload = replay.post(f"/assignments/{klass.assignment_id}/submissions", data={"csrf_token": stolen_csrf},
                             files={"file": ("hw2.py", b"x = 1\n")})
        assert upload.status_code == 403 or upload.headers["location"].startswith("/login")  # not stored
        logout = replay.post("/logout", data={"csrf_token": stolen_csrf})
        assert logout.status_code == 303 and logout.headers["location"] == "/login"  # an ended session logs out
    with api(sqlite_server, klass.students[0]) as student:
        assert student.get("/submissions").json() == []


def _new_token(server: LiveServer, person: Person, **request: object) -> dict:
    with api(server) as anonymous:
        response = anonymous.post("/auth/token", json={"email": person.email, "password": PASSWORD, **request})
    assert response.status_code == 200, response.text
    return response.json()


def _bearer(token: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_api_tokens_expire(sqlite_server: LiveServer, shared_sqlite_stack: Stack, klass: Klass,
                           use_stack: Callable[[Stack], None]) -> None:
    issued = _new_token(sqlite_server, klass.students[0])
    expires_at = datetime.fromisoformat(issued["expires_at"])
    default = timedelta(days=get_settings().token_ttl_days)
    assert abs(expires_at - (datetime.now(UTC) + default)) < timedelta(minutes=5)
    short = _new_token(sqlite_server, klass.students[0], expires_days=1)
    assert datetime.fromisoformat(short["expires_at"]) < expires_at
    with api(sqlite_server) as anonymous:
        too_long = anonymous.post("/auth/token", json={"email": klass.students[0].email, "password": PASSWORD,
                                                        "expires_days": get_settings().token_ttl_days + 1})
    assert too_long.status_code == 422

    with http_client(f"{sqlite_server.url}/api", headers=_bearer(issued)) as client:
        assert client.get("/auth/me").status_code == 200
        use_stack(shared_sqlite_stack)
        with session_scope() as db:  # as if the token's lifetime had gone by
            db.execute(update(ApiToken).where(ApiToken.id == issued["id"])
                       .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
            db.commit()
        refused = client.get("/auth/me")
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]


def test_api_tokens_can_be_listed_and_revoked(
    sqlite_server: LiveServer, shared_sqlite_stack: Stack, klass: Klass, use_stack: Callable[[Stack], None]
) -> None:
    alice, bob = klass.students
    mine = _new_token(sqlite_server, alice, label="laptop")
    with api(sqlite_server, alice) as client:
        listed = client.get("/auth/tokens").json()
        assert {t["label"] for t in listed} >= {"laptop"} and all("access_token" not in t for t in listed)
        assert {t["id"] for t in listed} >= {mine["id"]}
    with api(sqlite_server, bob) as other:
        assert other.delete(f"/auth/tokens/{mine['id']}").status_code == 404
        assert mine["id"] not in {t["id"] for t in other.get("/auth/tokens").json()}
    with api(sqlite_server, klass.instructor) as prof:  # instructors are not admins
        assert prof.delete(f"/auth/tokens/{mine['id']}").status_code == 404
    with http_client(f"{sqlite_server.url}/api", headers=_bearer(mine)) as laptop:
        assert laptop.get("/auth/me").status_code == 200
        assert laptop.delete(f"/auth/tokens/{mine['id']}").status_code == 204
        revoked = laptop.get("/auth/me")
        assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    with api(sqlite_server, alice) as client:  # her other token still works
        assert client.get("/auth/me").status_code == 200
        assert client.delete(f"/auth/tokens/{mine['id']}").status_code == 404  # already gone

    use_stack(shared_sqlite_stack)
    with session_scope() as db:
        admin = users.create_user(db, f"admin-{uuid.uuid4().hex[:8]}@web.test", "Admin", "admin")
        admin_token = users.issue_token(db, admin)
        db.commit()
    bobs = _new_token(sqlite_server, bob)
    with http_client(f"{sqlite_server.url}/api", headers={"Authorization": f"Bearer {admin_token}"}) as root:
        assert root.delete(f"/auth/tokens/{bobs['id']}").status_code == 204
    with http_client(f"{sqlite_server.url}/api", headers=_bearer(bobs)) as client:
        assert client.get("/auth/me").status_code == 401
