"""Data and assertions the API tests share."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem details of ``response``, after checking its status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def fields(problem_body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in problem_body.get("errors", [])]
