"""API tokens for the CLI and scripts: trade an email and password for a bearer token (throttled),
list one's tokens, revoke one."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from grader.api.docs import errors
from grader.api.schemas.accounts import TokenInfo, TokenPublic, TokenRequest, UserPublic
from grader.db.models import ApiToken
from grader.services import users
from grader.services.errors import Rejected
from grader.services.throttle import TooManyAttempts
from grader.web.deps import CurrentUser, Id, SessionDep, SettingsDep
from grader.web.login import password_login

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic,
             responses=errors(400, 401, 422, 429, meaning={401: "wrong email or password"}))
async def issue_token(body: TokenRequest, request: Request, db: SessionDep, settings: SettingsDep) -> TokenPublic:
    """A new token for the account; a password guessed wrong too often is refused for a while (429)."""
    if body.expires_days is not None and body.expires_days > settings.token_ttl_days:
        raise Rejected(422, f"a token lives at most {settings.token_ttl_days} days")
    try:
        user = await password_login(request, db, body.email, body.password)
    except TooManyAttempts as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, exc.message,
                            headers={"Retry-After": str(exc.retry_after_s)}) from None
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong email or password")
    token, row = await run_in_threadpool(users.create_token, db, user, body.label, body.expires_days)
    return TokenPublic(access_token=token, id=row.id, expires_at=row.expires_at)


@router.get("/me", response_model=UserPublic, responses=errors(401))
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.get("/tokens", response_model=list[TokenInfo], responses=errors(401))
def list_tokens(db: SessionDep, user: CurrentUser) -> list[ApiToken]:
    """Your API tokens, newest first (their secrets are never shown again)."""
    return users.list_tokens(db, user, owner=user)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401, 404))
def revoke_token(token_id: Id, db: SessionDep, user: CurrentUser) -> Response:
    """Revoke one of your tokens (admins: anyone's); it stops working at once."""
    users.revoke_token(db, user, token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
