"""The API's documentation: the error answers each route declares (`errors`), and Swagger UI at
/docs from the swagger-ui-bundle package's files: the machines have no internet, so FastAPI's
default page (scripts from a CDN) would stay blank."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from grader.api.schemas.common import ErrorMessage, Unprocessable

ASSETS = "/docs-assets"

ERROR_DESCRIPTIONS = {
    400: (
        "the body cannot be parsed: JSON nested too deep or in no Unicode encoding, "
        "a multipart form without its boundary"
    ),
    401: "no API token, or one that is invalid or revoked",
    403: "the caller's role in the course does not allow this",
    404: "no such resource (an id out of range included)",
    409: "conflicts with the current state",
    413: "larger than the upload limit",
    415: "not a .py file or a .ipynb notebook",
    422: "the request does not match its parameters (a list of issues), or a service refused the value (a message)",
    429: "too many requests: try again later",
}
_BEARER_CHALLENGE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}


def errors(*statuses: int, meaning: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route that can answer these error statuses, each with the body it
    really has; `meaning` says what a status means on this route, where the default is vague."""
    meaning = meaning or {}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "model": Unprocessable if status == 422 else ErrorMessage,
            "description": meaning.get(status, ERROR_DESCRIPTIONS[status]),
        }
        if status == 401:
            entry["headers"] = _BEARER_CHALLENGE
        responses[status] = entry
    return responses


def _drop_fastapis_default_422(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 of its own shape on every route with a parameter; this app answers
    422 as `Unprocessable` (grader.api.errors), and only where `errors(422)` says, since a path
    that does not parse is 404 here."""
    default = {"$ref": "#/components/schemas/HTTPValidationError"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422", {})
            if answer.get("content", {}).get("application/json", {}).get("schema") == default:
                del operation["responses"]["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def add_docs(app: FastAPI) -> None:
    """The OpenAPI schema without FastAPI's default 422, the Swagger UI files and the /docs page."""

    def openapi() -> dict[str, Any]:
        schema = app.openapi_schema
        if schema is None:
            schema = FastAPI.openapi(app)  # made once, and kept as app.openapi_schema
            _drop_fastapis_default_422(schema)
        return schema

    # FastAPI's documented way to change the schema: replace the method on the instance.
    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} · API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
