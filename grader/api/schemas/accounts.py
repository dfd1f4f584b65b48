"""Accounts and their API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from grader.api.schemas.common import ReadModel
from grader.web.deps import Password, Text


class UserPublic(ReadModel):
    id: int
    email: str
    name: str
    role: str


class TokenRequest(BaseModel):
    email: Text
    password: Password
    label: Text = Field("api", max_length=100, description="a name to recognise the token by")
    expires_days: int | None = Field(
        None, ge=1, description="days until it expires (default, and at most: the server's token lifetime)"
    )


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    id: int = Field(description="to revoke it: DELETE /api/auth/tokens/{id}")
    expires_at: datetime


class TokenInfo(ReadModel):
    """An API token without its secret (never stored)."""

    id: int
    label: str
    created_at: datetime
    expires_at: datetime
