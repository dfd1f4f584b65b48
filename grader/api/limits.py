"""A cap on request bodies, enforced as they arrive: a declared length past the cap is refused
before any of the body is read, and a body sent without one (chunked) is refused as soon as its
bytes pass the cap. The routes' own checks (the upload limit) still apply below the cap."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from grader.api.errors import error_response

# Room for the form fields and part headers around the largest file the upload limit accepts.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# For an answer sent before the request's body was read: the rest is never read, so the
# connection cannot carry another request.
CLOSE_CONNECTION = {"Connection": "close"}


class BodyTooLarge(Exception):
    """Raised into the app from receive() to stop it reading; BodyLimit answers instead."""


def _declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class BodyLimit:
    """413 for a request whose body is larger than the upload limit plus the form's overhead."""

    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.max_bytes = max_upload_bytes + MULTIPART_OVERHEAD_BYTES

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request is larger than the upload limit of {self.max_upload_bytes:,} bytes"
        await error_response(Request(scope), 413, message, CLOSE_CONNECTION)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        too_large = response_started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def send_unless_too_large(message: Message) -> None:
            nonlocal response_started
            if too_large:
                return  # the app's answer to BodyTooLarge (its own error handling): ours goes instead
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, send_unless_too_large)
        except BodyTooLarge:
            pass
        if too_large and not response_started:
            await self._refuse(scope, receive, send)
