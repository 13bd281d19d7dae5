"""Request id: taken from ``X-Request-ID`` or generated, logged and echoed back."""

from __future__ import annotations

import re

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared_kernel.infrastructure.logging import bind_correlation_id

REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


class RequestIdMiddleware:
    """Pure ASGI middleware (no per-request task switch, unlike BaseHTTPMiddleware).

    An incoming id is kept only if it is short and safe, so a client cannot inject
    arbitrary text into our logs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == REQUEST_ID_HEADER.encode()),
            None,
        )
        structlog.contextvars.clear_contextvars()
        request_id = bind_correlation_id(
            incoming if incoming and _SAFE_ID.fullmatch(incoming) else None
        )

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
