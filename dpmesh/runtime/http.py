"""How the platform serves an ASGI app: uvicorn, with a deadline for reading a request.

uvicorn closes a keep-alive connection that stays idle (``timeout_keep_alive``), but
it waits for ever on a client that connects and never finishes its request: one that
sends nothing, or its headers a byte at a time (slowloris), holds a connection and a
file descriptor as long as it likes, and a few hundred such clients exhaust a server.
:class:`ReadDeadlineProtocol` gives every request ``request_timeout_s`` from the
connection (or the end of the previous response) to the last byte of its body; past
it, the connection is closed. Bodies are small here (``create_api`` refuses more than
256 KiB), so the default of 20 s leaves an honest client a wide margin.

Settings (``DPMESH_HTTP_*``): ``request_timeout_s`` and ``keep_alive_s``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HttpServerSettings", "ReadDeadlineProtocol", "serve"]


class HttpServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DPMESH_HTTP_", extra="ignore")

    request_timeout_s: float = Field(
        default=20.0, gt=0, le=600, description="From connecting to a request's last byte."
    )
    keep_alive_s: int = Field(default=5, ge=1, le=600, description="Idle keep-alive connections.")


class ReadDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose request is not read in
    time (module docstring)."""

    request_timeout_s = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._read_deadline is None:
            self._read_deadline = self.loop.call_later(self.request_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _too_slow(self) -> None:
        self._read_deadline = None
        if not self.transport.is_closing():
            self.logger.info(
                "closed a connection whose request took over %.0f s", self.request_timeout_s
            )
            self.transport.close()


def serve(app: Any, *, host: str, port: int, factory: bool = False) -> None:
    """Run ``app`` (or the ``module:function`` factory) until SIGINT/SIGTERM."""
    settings = HttpServerSettings()
    protocol = type(
        "ReadDeadlineProtocol",
        (ReadDeadlineProtocol,),
        {"request_timeout_s": settings.request_timeout_s},
    )
    uvicorn.run(
        app,
        factory=factory,
        host=host,
        port=port,
        log_config=None,
        http=protocol,
        timeout_keep_alive=settings.keep_alive_s,
    )
