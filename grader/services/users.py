"""Accounts: creating users, checking passwords, API tokens (both stored hashed only), and ending
an account's sessions and tokens."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from grader.config import get_settings
from grader.db.base import utcnow
from grader.db.models import ApiToken, Role, User
from grader.services.errors import Forbidden, NotFound, Rejected

# scrypt cost: 16 MiB and a noticeable time per check, which makes guessing stored passwords expensive.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
TOKEN_PREFIX = "grd_"
MAX_TOKEN_DAYS = 3650
MAX_EMAIL_CHARS = 320  # the column's length
MAX_NAME_CHARS = 200
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1000


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash`: the parameters travel with the hash so they can be raised later."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    candidate = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(candidate, base64.b64decode(digest))


# Checked against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def secret_hash(token: str) -> str:
    """What is stored of a random secret (an API token, an invitation link's token): its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str) -> str:
    """The address as stored (trimmed, lower case); Rejected (422) if it is none."""
    email = normalize_email(email)
    local, at, domain = email.partition("@")
    if not (local and at and domain) or len(email) > MAX_EMAIL_CHARS or any(char.isspace() for char in email):
        raise Rejected(422, f"{email!r} is not an email address")
    return email


def get_user(db: Session, user_id: int) -> User:
    """The account with this id, or NotFound (404): the person a route names by id."""
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def get_user_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalize_email(email)))


def valid_name(name: str) -> str:
    """The name stripped, if it fits its column (Rejected, 422): checked where accounts are made
    one by one and before a roster import creates any."""
    name = name.strip()
    if len(name) > MAX_NAME_CHARS:
        raise Rejected(422, f"a name has at most {MAX_NAME_CHARS} characters, not {len(name)}")
    return name


def valid_password(password: str) -> str:
    """The one rule for every way a password is set (an invitation, `users add`, the first admin)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise Rejected(422, f"a password has at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise Rejected(422, f"a password has at most {MAX_PASSWORD_CHARS} characters")
    return password


def new_user(email: str, name: str, role: str, password: str | None = None) -> User:
    """A valid account, not yet in any session (Rejected, 422, for a bad email, name or role)."""
    email = valid_email(email)
    if role not in Role.__members__:
        raise Rejected(422, f"role must be one of {', '.join(Role)}, not {role!r}")
    name = valid_name(name)
    return User(email=email, name=name or email, role=Role(role),
                password_hash=hash_password(valid_password(password)) if password else None)


def create_user(db: Session, email: str, name: str, role: str, password: str | None = None) -> User:
    """A new account (flushed, not committed: the caller owns the transaction)."""
    user = new_user(email, name, role, password)
    if get_user_by_email(db, user.email) is not None:
        raise Rejected(409, f"a user with email {user.email} already exists")
    db.add(user)
    db.flush()  # the caller sees its id
    return user


def bootstrap_admin(db: Session, email: str, password: str | None) -> User | None:
    """The first admin of a new deployment (GRADER_ADMIN_EMAIL), created only while there is no admin
    at all, so it is safe at every start; None when an admin exists. Not committed."""
    if db.scalar(select(User.id).where(User.role == Role.admin).limit(1)) is not None:
        return None
    return create_user(db, email, "Administrator", "admin", password)


def create_token(db: Session, user: User, label: str = "api", expires_days: int | None = None) -> tuple[str, ApiToken]:
    """A new API token and its row; the plaintext is returned once and never stored.

    It expires after `expires_days` days (GRADER_TOKEN_TTL_DAYS by default).
    """
    days = get_settings().token_ttl_days if expires_days is None else expires_days
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise Rejected(422, f"a token's lifetime is 1 to {MAX_TOKEN_DAYS} days, not {days}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, label=label, token_hash=secret_hash(token),
                   expires_at=utcnow() + timedelta(days=days))
    db.add(row)
    db.flush()  # the caller shows its id
    return token, row


def issue_token(db: Session, user: User, label: str = "api", expires_days: int | None = None) -> str:
    return create_token(db, user, label, expires_days)[0]


def user_for_token(db: Session, token: str) -> User | None:
    """The token's owner, unless the token is unknown, revoked or expired."""
    return db.scalar(select(User).join(ApiToken)
                     .where(ApiToken.token_hash == secret_hash(token), ApiToken.expires_at > utcnow()))


def list_tokens(db: Session, actor: User, owner: User | None) -> list[ApiToken]:
    """`owner`'s tokens (everyone's when None), newest first; only admins see other people's."""
    if actor.role != Role.admin and (owner is None or owner.id != actor.id):
        raise Forbidden("only admins see other people's API tokens")
    query = select(ApiToken).options(joinedload(ApiToken.user)).order_by(ApiToken.id.desc())
    if owner is not None:
        query = query.where(ApiToken.user_id == owner.id)
    return list(db.scalars(query))


def revoke_token(db: Session, actor: User, token_id: int) -> None:
    """Delete one's own token, or (admins) anyone's; another person's reads as unknown, so ids tell nothing."""
    token = db.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and actor.role != Role.admin):
        raise NotFound(f"no API token {token_id}")
    db.delete(token)


def end_sessions(db: Session, user: User) -> None:
    """Log the user out everywhere: every session cookie issued so far stops working."""
    db.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1))


def password_matches(user: User | None, password: str) -> bool:
    """An unknown user, or one without a password, costs a check too: a login takes as long either way."""
    if user is None or user.password_hash is None:
        verify_password(password, _DUMMY_HASH)
        return False
    return verify_password(password, user.password_hash)


@lru_cache
def _password_checkers(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="password-check")


async def check_password(user: User | None, password: str) -> bool:
    """`password_matches` on a few threads of its own: a flood of logins queues for those, and
    the threads that serve every other request stay free."""
    checkers = _password_checkers(get_settings().password_hash_threads)
    return await asyncio.get_running_loop().run_in_executor(checkers, password_matches, user, password)


def authenticate(db: Session, email: str, password: str) -> User | None:
    user = get_user_by_email(db, email)
    return user if password_matches(user, password) else None
