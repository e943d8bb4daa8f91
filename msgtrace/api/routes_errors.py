"""Read-API errors as JSON `{"detail", "hint", "column"}`, handled inside the read router.

`ReadRoute` (the router's route class) turns `MsgTraceError`/`NotFound` and request validation
errors into JSON responses, so the shape holds no matter which app includes the router.
`install_error_handlers(app)` does the same app-wide for apps that want it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from msgtrace.core.errors import MsgTraceError, QueryError


class ErrorResponse(BaseModel):
    detail: str
    hint: str | None = None
    column: int | None = None


class NotFound(Exception):
    """An unknown trace or span (HTTP 404)."""

    def __init__(self, detail: str, hint: str = "list traces with GET /api/v1/traces") -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Bad filter or query"},
}
NOT_FOUND_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: {"model": ErrorResponse, "description": "Unknown trace or span"},
}


def error_json(
    status: int, detail: str, hint: str | None = None, column: int | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "hint": hint, "column": column}, status_code=status)


def describe_validation(errors: list[Any]) -> str:
    """'limit: Input should be less than or equal to 1000; sort: ...' naming each parameter."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body", "header")]
        name = ".".join(loc) or "request"
        parts.append(f"{name}: {err.get('msg', 'invalid')}")
    return "invalid parameter " + "; ".join(parts)


def to_response(exc: Exception) -> JSONResponse | None:
    if isinstance(exc, NotFound):
        return error_json(404, exc.detail, exc.hint)
    if isinstance(exc, QueryError):
        return error_json(400, exc.message, exc.hint or None, exc.column)
    if isinstance(exc, RequestValidationError | ValidationError):
        return error_json(
            400, describe_validation(list(exc.errors())), "check the parameter against /docs"
        )
    if isinstance(exc, MsgTraceError):
        return error_json(400, exc.message, exc.hint or None)
    return None


class ReadRoute(APIRoute):
    """An APIRoute whose handler maps read-side errors to JSON error responses."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                response = to_response(exc)
                if response is None:
                    raise
                return response

        return route


def install_error_handlers(app: FastAPI) -> None:
    """App-wide handlers for the same errors (for routes outside the read router)."""

    async def handle(request: Request, exc: Exception) -> Response:
        response = to_response(exc)
        assert response is not None
        return response

    for exc_type in (NotFound, QueryError):
        app.add_exception_handler(exc_type, handle)
