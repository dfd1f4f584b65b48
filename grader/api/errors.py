"""How the app answers errors: JSON {"detail": ...} under /api, an error page elsewhere.

A service's error carries its status. A request that does not fit its route is 422, except a path
parameter that does not parse (an id out of range, say): that path names nothing, so 404.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from grader.api.schemas.common import RequestInvalid, RequestIssue
from grader.services.errors import NotFound, ServiceError
from grader.web.rendering import error_page

API_PREFIX = "/api"


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def error_response(request: Request, status_code: int, message: str,
                   headers: Mapping[str, str] | None = None) -> Response:
    """{"detail": message} or the error page: also what the middlewares answer with."""
    if is_api(request):
        response: Response = JSONResponse({"detail": message}, status_code=status_code)
    else:
        response = error_page(request, status_code, message)
    response.headers.update(headers or {})
    return response


async def service_error(request: Request, exc: ServiceError) -> Response:
    return error_response(request, exc.status_code, exc.message, exc.headers)


async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
    """Only loc, msg and type: the rejected input is not echoed back (it may be huge, or NaN,
    which JSON cannot carry)."""
    issues = [RequestIssue(loc=list(e["loc"]), msg=e["msg"], type=e["type"]) for e in exc.errors()]
    bad_path = next((issue for issue in issues if issue.loc[0] == "path"), None)
    if bad_path is not None:
        name = str(bad_path.loc[-1])
        return await service_error(request, NotFound(f"no {name.removesuffix('_id')} {request.path_params.get(name)}"))
    if is_api(request):
        return JSONResponse(RequestInvalid(detail=issues).model_dump(), status_code=422)
    message = "; ".join(f"{'.'.join(map(str, issue.loc[1:])) or issue.loc[0]}: {issue.msg}" for issue in issues)
    return error_page(request, 422, message)


def add_error_handlers(app: FastAPI) -> None:
    # The decorator form: add_exception_handler types its handler for any Exception.
    app.exception_handler(ServiceError)(service_error)
    app.exception_handler(RequestValidationError)(request_invalid)
