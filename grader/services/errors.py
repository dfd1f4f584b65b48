"""Errors the services raise; each carries the HTTP status the API and the pages answer with."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the message."""
        return {}


class NotFound(ServiceError):
    status_code = 404


class Forbidden(ServiceError):
    status_code = 403


class Rejected(ServiceError):
    """Bad input: 400, 409 (conflicts with the current state), 413, 415, 422 or 429."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class TryLater(Rejected):
    """429 that ends by itself: the answer says when (Retry-After, in whole seconds)."""

    def __init__(self, retry_after_s: int, message: str) -> None:
        super().__init__(429, message)
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}
