"""Password logins, shared by the API's token route and the login page: throttled first, then
checked on the password-check threads (never the threads that serve the other requests)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from grader.db.models import User
from grader.services import users
from grader.services.throttle import login_throttle


def client_address(request: Request) -> str:
    """Whom the throttle counts a guess against (behind a proxy: see FORWARDED_ALLOW_IPS in the README)."""
    return request.client.host if request.client else "unknown"


def _counted_lookup(db: Session, email: str, address: str) -> User | None:
    login_throttle().attempt(email, address)
    user = users.get_user_by_email(db, email)
    db.commit()  # ends the read: its pooled connection is not held while the password waits its turn
    return user


async def password_login(request: Request, db: Session, email: str, password: str) -> User | None:
    """The user if the password is theirs, else None; TooManyAttempts (429) once the account or
    the client address has used up its attempts."""
    address = client_address(request)
    user = await run_in_threadpool(_counted_lookup, db, email, address)
    if not await users.check_password(user, password):
        return None
    await run_in_threadpool(login_throttle().succeeded, email, address)
    return user
