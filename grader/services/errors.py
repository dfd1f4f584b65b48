"""Errors the services raise; each carries the HTTP status the API and the pages answer with."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    status_code = 404


class Forbidden(ServiceError):
    status_code = 403


class Rejected(ServiceError):
    """Bad input: 400, 409 (conflicts with the current state), 413, 415, 422 or 429."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
