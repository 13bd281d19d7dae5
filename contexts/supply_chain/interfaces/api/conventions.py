"""HTTP conventions every supply chain route follows (see docs/supply-chain-api.md).

- A single resource carries its aggregate's version as a strong ``ETag: "<version>"``.
- A command on an existing aggregate honours ``If-Match: "<version>"`` (or ``*``):
  the version goes to the handler as ``expected_version``; a stale one is a 412.
- A creation answers 201 with ``Location``.
- Every error is ``application/problem+json`` (``shared_kernel.interfaces.problems``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Request, Response

from shared_kernel.interfaces.problems import PROBLEM_RESPONSES

API_PREFIX = "/api/v1"

_IF_MATCH = r'^(\*|"[0-9]{1,9}")$'


def etag(version: int) -> str:
    return f'"{version}"'


def tag(response: Response, version: int) -> None:
    """Mark ``response`` as showing the resource at ``version``."""
    response.headers["ETag"] = etag(version)


def created(response: Response, request: Request, route: str, version: int, **params: str) -> None:
    """201, ``Location`` of the new resource (the path of route ``route``), ``ETag``."""
    response.status_code = 201
    response.headers["Location"] = str(request.app.url_path_for(route, **params))
    tag(response, version)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem+json responses a route documents, by status."""
    return {status: PROBLEM_RESPONSES[status] for status in statuses}


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            pattern=_IF_MATCH,
            description=(
                'The ETag the change is based on, e.g. `"3"`; `*` or no header skips '
                "the check. A stale version is refused with 412."
            ),
            examples=['"3"'],
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match == "*":
        return None
    return int(if_match.strip('"'))
