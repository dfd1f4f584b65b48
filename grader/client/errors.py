"""The one error the student commands report: a message for the student, then exit status 2."""

from __future__ import annotations


class ClientError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
