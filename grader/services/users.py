"""Accounts: creating users, checking passwords, and API tokens (both stored hashed only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.db.models import ApiToken, Role, User
from grader.services.errors import Rejected

# scrypt cost: 16 MiB and ~50 ms per check, which makes guessing stored passwords expensive.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
TOKEN_PREFIX = "grd_"


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


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def get_user_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalize_email(email)))


def create_user(db: Session, email: str, name: str, role: str, password: str | None = None) -> User:
    email = normalize_email(email)
    if "@" not in email:
        raise Rejected(422, f"{email!r} is not an email address")
    if role not in Role.__members__:
        raise Rejected(422, f"role must be one of {', '.join(Role)}, not {role!r}")
    if get_user_by_email(db, email) is not None:
        raise Rejected(409, f"a user with email {email} already exists")
    user = User(email=email, name=name.strip() or email, role=Role(role),
                password_hash=hash_password(password) if password else None)
    db.add(user)
    db.commit()
    return user


def issue_token(db: Session, user: User, label: str = "api") -> str:
    """A new API token; the plaintext is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(user_id=user.id, label=label, token_hash=_token_hash(token)))
    db.commit()
    return token


def user_for_token(db: Session, token: str) -> User | None:
    return db.scalar(select(User).join(ApiToken).where(ApiToken.token_hash == _token_hash(token)))


def authenticate(db: Session, email: str, password: str) -> User | None:
    user = get_user_by_email(db, email)
    if user is None or user.password_hash is None:
        verify_password(password, _DUMMY_HASH)
        return None
    return user if verify_password(password, user.password_hash) else None
