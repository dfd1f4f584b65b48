"""Request dependencies and parameter types shared by the API and the pages: a DB session,
who is asking, an upload, ids and free text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, NamedTuple

from fastapi import Depends, HTTPException, Query, Request, UploadFile, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, Field
from sqlalchemy.orm import Session

from grader.config import Settings, get_settings
from grader.db.base import MAX_ID
from grader.db.models import User
from grader.services import users
from grader.services.errors import Rejected
from grader.web.session import SAFE_METHODS, session_login

Id = Annotated[int, Field(ge=1, le=MAX_ID, description="a database id")]
"""Every id a request carries (path, query or body): out of range is 404 in a path, 422 elsewhere."""


def _utf8(text: str) -> str:
    """A lone UTF-16 surrogate (what JSON's "\\ud800" decodes to, or a form field in an odd charset)
    has no UTF-8: it could be neither hashed, stored nor shown."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError("must be text that UTF-8 can encode (no lone surrogates)") from None
    return text


def _without_nul(text: str) -> str:
    if "\0" in text:
        raise ValueError("must not contain NUL characters")  # PostgreSQL text cannot hold them
    return text


Password = Annotated[str, AfterValidator(_utf8)]
"""A password a request carries: it is hashed, never stored, so a NUL is allowed."""
Text = Annotated[Password, AfterValidator(_without_nul), Field(json_schema_extra={"pattern": r"^[^\u0000]*$"})]
"""Free text a request carries into the database (every text field of a body or a form)."""

PageNumber = Annotated[int, Query(ge=1, le=MAX_ID)]
"""Which page of a long list a page shows, from 1."""
Search = Annotated[Text, Query(max_length=200)]
"""What a list page's search box filters by."""


bearer_scheme = HTTPBearer(auto_error=False, description="An API token from POST /api/auth/token")


def get_db(request: Request) -> Iterator[Session]:
    """The request's transaction: committed once the handler has returned, rolled back (on close)
    if it raised. The services never commit; this is where a route's or a page's changes land."""
    with request.app.state.sessionmaker() as db:
        yield db
        db.commit()


SettingsDep = Annotated[Settings, Depends(get_settings)]
# "function": the commit runs before the response is sent, not after it, so a client never sees
# success for a change that is not stored, and a failed commit is answered with an error.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def get_session_user(request: Request, db: SessionDep) -> User | None:
    """The user logged in through the login page, unless that session was ended (logout) since."""
    login = session_login(request)
    if login is None:
        return None
    user_id, version = login
    user = db.get(User, user_id)
    return user if user is not None and user.session_version == version else None


def token_user(db: Session, token: str | None) -> User:
    """The owner of a bearer token; 401 without a token or with an unknown, revoked or expired one."""
    if token is None:
        raise _unauthorized("not authenticated: send an API token as 'Authorization: Bearer <token>'")
    user = users.user_for_token(db, token)
    if user is None:
        raise _unauthorized("invalid, expired or revoked API token")
    return user


def get_current_user(request: Request, db: SessionDep, credentials: BearerDep) -> User:
    """A bearer token, or (for reads only, so a cross-site form can't write) the page session."""
    if credentials is None and request.method in SAFE_METHODS:
        user = get_session_user(request, db)
        if user is not None:
            return user
    return token_user(db, credentials.credentials if credentials is not None else None)


CurrentUser = Annotated[User, Depends(get_current_user)]


class Upload(NamedTuple):
    filename: str
    data: bytes


def read_upload(file: UploadFile, settings: SettingsDep) -> Upload:
    """The uploaded file's bytes, never more than the limit in memory (the services check the rest)."""
    limit = settings.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise Rejected(413, f"{file.filename!r} is larger than the upload limit of {limit:,} bytes")
    return Upload(file.filename or "", data)


UploadDep = Annotated[Upload, Depends(read_upload)]
