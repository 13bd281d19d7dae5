"""ASGI middleware of every API: the request id, and the request body's size limit.

The request id is taken from ``X-Request-ID`` or generated, logged and echoed back.
"""

from __future__ import annotations

import json
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


#: Request bodies larger than this are refused with 413 (``create_api(max_body_bytes=)``).
DEFAULT_MAX_BODY_BYTES = 256 * 1024


class BodyLimitMiddleware:
    """Refuse a request body over ``max_bytes`` with a 413 problem, before any parsing.

    A declared ``Content-Length`` over the limit is refused at once; a body sent without
    one (chunked) is counted as it arrives and refused when it passes the limit. So a
    client cannot make the API parse, validate and answer an arbitrarily large
    document (a 1 MB body of unknown keys took seconds of the event loop).
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    raise _BodyTooLarge
            return message

        started = False

        async def guarded_send(message: Message) -> None:
            # Once the body passed the limit, whatever the app answers (it may turn the
            # interrupted read into a 400) is replaced by the 413.
            nonlocal started
            if refused:
                if not started:
                    started = True
                    await self._refuse(scope, send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Content Too Large",
                "status": 413,
                "detail": f"the request body is larger than {self.max_bytes} bytes",
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


#: A page may load scripts, styles, images and data only from its own origin; no
#: inline script or style, no plugin, no framing, no <base> rewrite.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


class SecurityHeadersMiddleware:
    """Every response gets ``Content-Security-Policy`` and ``X-Content-Type-Options:
    nosniff``; those that set no cache policy get ``Cache-Control: no-store`` (data
    must not linger in shared caches). For apps that serve pages (the catalog)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
