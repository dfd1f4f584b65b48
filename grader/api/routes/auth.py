"""API tokens for the CLI and scripts: trade an email and password for a bearer token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from grader.api.deps import CurrentUser, SessionDep
from grader.api.docs import errors
from grader.api.schemas import TokenPublic, TokenRequest, UserPublic
from grader.services import users

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token", response_model=TokenPublic,
             responses=errors(400, 401, 422, 429, meaning={401: "wrong email or password"}))
def issue_token(body: TokenRequest, db: SessionDep) -> TokenPublic:
    user = users.authenticate(db, body.email, body.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong email or password")
    return TokenPublic(access_token=users.issue_token(db, user, label=body.label))


@router.get("/me", response_model=UserPublic, responses=errors(401))
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)
