"""What every domain's models share: the base for read models, time types, error bodies."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, RootModel

from grader.services.courses import in_utc

UtcDatetime = Annotated[AwareDatetime, AfterValidator(in_utc)]
"""A time with its zone, stored in UTC: 0001-01-01T00:00+14:00 has no UTC equivalent."""


def _seconds(value: object) -> object:
    return value.total_seconds() if isinstance(value, timedelta) else value


Seconds = Annotated[float, BeforeValidator(_seconds)]
"""A duration (a timedelta in the services) as seconds."""

CappedFrom = Annotated[
    float | None, Field(description="a manual grade as given, above the points the question has now: it counts as them")
]
"""A manual grade as given, where it is above its question's points (they changed after it); staff only."""


class ErrorMessage(BaseModel):
    """The body of every error the services or the authentication answer with."""

    detail: str = Field(description="what went wrong, for a person to read")


class RequestIssue(BaseModel):
    loc: list[str | int] = Field(description="where: body, query or path, then the field")
    msg: str
    type: str = Field(description="pydantic's error type, e.g. int_parsing")


class RequestInvalid(BaseModel):
    """422 from request validation: the request does not match the documented parameters."""

    detail: list[RequestIssue]


class Unprocessable(RootModel[RequestInvalid | ErrorMessage]):
    """422: a list of issues from request validation, or one message from a service's own check."""


class ReadModel(BaseModel):
    """Built from ORM objects and service dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)
