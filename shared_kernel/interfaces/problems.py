"""RFC 9457 problem details for every error an API returns.

Domain errors map to one status each; request validation errors list every offending
field. Clients always get ``application/problem+json``, never an HTML page or a bare
string, and never a 500 for input they could fix.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared_kernel.domain.errors import (
    BusinessRuleViolation,
    ConcurrencyConflict,
    Conflict,
    DomainError,
    InvalidValue,
    NotFound,
)
from shared_kernel.infrastructure.logging import current_correlation_id
from shared_kernel.interfaces.middleware import REQUEST_ID_HEADER

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://dpmesh.dev/problems/"
logger = logging.getLogger(__name__)


class FieldProblem(BaseModel):
    field: str = Field(
        description="Dotted path of the offending input, e.g. `body.lines.0.quantity`."
    )
    message: str
    type: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None
    rule: str | None = None


def problem_response(
    request: Request, problem: Problem, headers: dict[str, str] | None = None
) -> JSONResponse:
    problem.instance = problem.instance or request.url.path
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def status_for(error: DomainError, request: Request) -> int:
    """404 / 409 / 412 / 422 by meaning.

    A concurrency conflict is 412 when the caller stated a precondition (``If-Match``)
    and 409 when the clash was found at commit without one.
    """
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, ConcurrencyConflict):
        return 412 if "if-match" in request.headers else 409
    if isinstance(error, Conflict | BusinessRuleViolation):
        return 409
    if isinstance(error, InvalidValue):
        return 422
    return 400


def _slug(error: DomainError) -> str:
    name = type(error).__name__
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    problem = Problem(
        type=PROBLEM_BASE + _slug(exc),
        title=exc.title,
        status=status_for(exc, request),
        detail=exc.detail,
    )
    if isinstance(exc, InvalidValue):
        problem.errors = [FieldProblem(field=exc.field, message=exc.reason)]
    if isinstance(exc, BusinessRuleViolation):
        problem.rule = exc.rule
    return problem_response(request, problem)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


#: A 422 lists at most this many field problems: enough to fix a request, never an
#: answer many times the size of the request (100k unknown keys once made 9 MB).
MAX_FIELD_PROBLEMS = 20


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    try:
        _pass_gates(request)
    except StarletteHTTPException as refused:
        return await _http_error(request, refused)
    found = exc.errors()
    if _body_not_json(request, found):
        return problem_response(
            request,
            Problem(
                title="Unsupported Media Type",
                status=415,
                detail="the request body must be application/json",
            ),
            headers={"Accept-Post": "application/json"},
        )
    errors = [
        FieldProblem(
            field=_location(err.get("loc", ())), message=err.get("msg", ""), type=err.get("type")
        )
        for err in itertools.islice(found, MAX_FIELD_PROBLEMS)
    ]
    detail = f"{len(found)} field(s) failed validation"
    if len(found) > len(errors):
        detail += f"; the first {len(errors)} are listed"
    problem = Problem(
        type=PROBLEM_BASE + "validation-error",
        title="Invalid request",
        status=422,
        detail=detail,
        errors=errors,
    )
    return problem_response(request, problem)


def _pass_gates(request: Request) -> None:
    """Run the ``request_gate`` of each dependency of the matched route (access control
    marks its dependencies so): FastAPI parses the body before it resolves dependencies,
    so without this a caller with no token would learn about the body first (422
    before 401)."""
    pending = [_effective_dependant(request)]
    while pending:
        dependant = pending.pop()
        if dependant is None:
            continue
        gate = getattr(dependant.call, "request_gate", None)
        if callable(gate):
            gate(request)
        pending.extend(dependant.dependencies)


def _effective_dependant(request: Request) -> Any:
    """The matched route's dependencies, those of the routers it was included with too.

    FastAPI >= 0.120 keeps the included routers' dependencies on the route's effective
    context, reachable only through a private attribute; the authorization matrix test
    (every route, malformed body, no token: 401) fails if that ever moves.
    """
    route = request.scope.get("route")
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI copies router dependencies into the route
        return getattr(route, "dependant", None)
    for context in iter_route_contexts(request.app.routes):
        if context.original_route is route:
            effective = getattr(context, "_route_context", None)
            return getattr(effective, "dependant", None) or getattr(route, "dependant", None)
    return getattr(route, "dependant", None)


def _body_not_json(request: Request, errors: Sequence[Any]) -> bool:
    """A JSON body was expected (a body field failed) but another media type was sent."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not media_type or media_type == "application/json" or media_type.endswith("+json"):
        return False
    return any(tuple(err.get("loc", ()))[:1] == ("body",) for err in errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    problem = Problem(
        title=_reason(exc.status_code), status=exc.status_code, detail=str(exc.detail)
    )
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request)) or headers.get("Allow", "")
    return problem_response(request, problem, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on the request's path. Starlette names only those
    of the first route that matches the path, while a list and its create command are
    two routes on one path; each method is tried against the routes' own matching."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return allowed


_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    problem = Problem(
        title="Internal Server Error",
        status=500,
        detail="An unexpected error occurred; it has been logged with the request id.",
    )
    # Starlette answers unhandled exceptions from its outermost middleware, outside
    # RequestIdMiddleware, so the id the error was logged with is added here.
    request_id = current_correlation_id()
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    return problem_response(request, problem, headers=headers)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": text}
    for status, text in (
        (400, "The body cannot be read (not UTF-8 text)"),
        (404, "Not found"),
        (409, "Conflict with the current state or a business rule"),
        (412, "If-Match does not match the current version"),
        (413, "The request body is larger than the API accepts"),
        (415, "The request body is not application/json"),
        (422, "Invalid input; `errors` lists the offending fields (at most 20)"),
    )
}


#: Problems any operation that takes a body may answer, besides its own.
_BODY_PROBLEMS: dict[str, str] = {
    "400": "The body cannot be read (not UTF-8 text)",
    "413": "The request body is larger than the API accepts",
    "415": "The request body is not application/json",
    "422": "Invalid input; `errors` lists the offending fields (at most 20)",
}


def _generic(response: Any) -> bool:
    """An error response declared without a body of its own, or as FastAPI's default."""
    if not isinstance(response, dict):
        return False
    content = response.get("content")
    return not content or "HTTPValidationError" in str(content)


def declare_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what the server sends: every error is an
    ``application/problem+json`` :class:`Problem` (FastAPI declares its own JSON
    validation error instead), and every operation with a body may answer 400, 413,
    415 and 422."""
    produce = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = produce()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        definitions = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(definitions.pop("$defs", {}))
        components["Problem"] = definitions
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        problem = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                declared = dict(_BODY_PROBLEMS) if "requestBody" in operation else {}
                if "422" in responses:
                    declared["422"] = _BODY_PROBLEMS["422"]
                for status, text in declared.items():
                    if status == "422" or status not in responses:
                        responses[status] = {"description": text, **problem}
                for status, response in responses.items():
                    if status.startswith(("4", "5")) and _generic(response):
                        response.update(problem)
        _tidy(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


#: What a decimal sent as a JSON string looks like (pydantic accepts these and no others).
DECIMAL_TEXT = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


def _tidy(schema: dict[str, Any]) -> None:
    """Say precisely what the server accepts, where FastAPI's document is looser:

    - an optional header or query parameter is either absent or a value: FastAPI
      declares ``str | None`` as "string or null", and a client that sends the text
      ``null`` gets a 422 the document did not announce;
    - a decimal accepted as a string (pydantic's ``number | string``) must be a numeral.
    """
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", ()):
                if not parameter.get("required") and isinstance(parameter.get("schema"), dict):
                    parameter["schema"] = _without_null(parameter["schema"])
    _numeral_strings(schema.get("components", {}).get("schemas", {}))
    _numeral_strings(schema.get("paths", {}))


def _without_null(found: dict[str, Any]) -> dict[str, Any]:
    members = found.get("anyOf")
    if not isinstance(members, list):
        return found
    kept = [member for member in members if member != {"type": "null"}]
    if len(kept) == 1:
        rest = {key: value for key, value in found.items() if key != "anyOf"}
        return {**kept[0], **rest}
    return {**found, "anyOf": kept}


def _numeral_strings(node: Any) -> None:
    if isinstance(node, dict):
        members = node.get("anyOf")
        if isinstance(members, list) and {"type": "number"} in [
            {k: v for k, v in m.items() if k == "type"} for m in members if isinstance(m, dict)
        ]:
            for member in members:
                if isinstance(member, dict) and member.get("type") == "string":
                    member.setdefault("pattern", DECIMAL_TEXT)
        for value in node.values():
            _numeral_strings(value)
    elif isinstance(node, list):
        for value in node:
            _numeral_strings(value)
