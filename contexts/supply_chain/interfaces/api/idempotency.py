"""``Idempotency-Key`` on command POSTs: a retried request has its effect once.

The first request with a key runs; its 2xx response (status, body, ``ETag``,
``Location``) is stored under the key. A request with the same key and the same
method, path and body gets that response again, marked ``Idempotent-Replayed: true``,
and the command does not run again. The same key with another request is refused
with 422. Errors are not stored: a refused command changed nothing, so running it
again is harmless and may succeed once the state allows it.

Exactly once, even when two requests with one key race or the process dies after
the commit: the key is *claimed* by a ``before_commit`` hook of the command's own
unit of work (see the store in ``infrastructure.persistence.idempotency``), so the
key is stored if and only if the effect is. The loser of a race rolls back and is
answered from the winner's record; a key whose response is not recorded yet answers
409, to be retried.

The routes of a router built with ``route_class=IdempotentRoute`` get this for every
POST; the store comes from the app's container (``idempotency_store``) and the claim
reaches the unit of work through ``request.state`` (see ``dependencies.message_bus``).

The stored response is looked up by the route's ``idempotency_key`` dependency, which
runs after the dependencies the route was included with (the access checks), so a
replay is never served to a caller who may not send the command.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Annotated, Any, Protocol

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute

from shared_kernel.domain import Conflict, DomainError, InvalidValue

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
CLAIM_STATE = "idempotency_claim"
#: ``(key, request hash, store)`` of a claimed key, for recording the response.
PENDING_STATE = "idempotency_pending"
#: Response headers worth replaying; the others describe the transport, not the result.
KEPT_HEADERS = ("content-type", "etag", "location")
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


class StoredRequest(Protocol):
    @property
    def request_hash(self) -> str: ...

    @property
    def status_code(self) -> int | None: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def body(self) -> bytes: ...


class IdempotencyStore(Protocol):
    async def find(self, key: str) -> StoredRequest | None: ...

    def claim(self, key: str, request_hash: str) -> Callable[[Any], Awaitable[None]]: ...

    async def save(
        self,
        key: str,
        request_hash: str,
        status_code: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None: ...


async def idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description=(
                "Makes a retry safe: the same key with the same request returns the first "
                "response without a second effect; with another request, 422. "
                "1 to 200 visible ASCII characters, e.g. a UUID."
            ),
            examples=["5f1c2a9e-6c1d-4a53-9a2e-1f3b8a7d0c42"],
        ),
    ] = None,
) -> None:
    """Documents the header in OpenAPI and looks the key up.

    A stored response ends the request here (``IdempotentRoute`` answers with it);
    otherwise the key is claimed for the command's unit of work and the response is
    recorded by ``IdempotentRoute`` after the command.
    """
    if key is None:
        return
    if not _KEY.fullmatch(key):
        raise InvalidValue(HEADER, "must be 1 to 200 visible ASCII characters")
    store: IdempotencyStore = request.app.state.container.idempotency_store()
    fingerprint = await request_hash(request)
    stored = await store.find(key)
    if stored is not None:
        raise _Replayed(replay(stored, fingerprint))
    setattr(request.state, CLAIM_STATE, store.claim(key, fingerprint))
    setattr(request.state, PENDING_STATE, (key, fingerprint, store))


class _Replayed(Exception):
    """Carries the recorded response out of the dependencies to ``IdempotentRoute``."""

    def __init__(self, response: Response) -> None:
        super().__init__("replayed")
        self.response = response


async def request_hash(request: Request) -> str:
    """Method, path, query and body; a JSON body in canonical form, so that key order
    and spacing do not make a retry look like another request."""
    body = await request.body()
    try:
        canonical = json.dumps(
            json.loads(body, parse_float=str), sort_keys=True, separators=(",", ":")
        ).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode())
        digest.update(b"\n")
    digest.update(canonical)
    return digest.hexdigest()


def replay(stored: StoredRequest, request_hash: str) -> Response:
    if stored.request_hash != request_hash:
        raise InvalidValue(HEADER, "was already used with another request; use a new key")
    if stored.status_code is None:
        raise Conflict(
            "a request with this Idempotency-Key was processed, but its response is not "
            "recorded yet; retry shortly or read the resource"
        )
    headers = {**stored.headers, REPLAYED_HEADER: "true"}
    return Response(stored.body, status_code=stored.status_code, headers=headers)


class IdempotentRoute(APIRoute):
    """An ``APIRoute`` whose POST honours ``Idempotency-Key`` (module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "POST" in (kwargs.get("methods") or ()):
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or ()), Depends(idempotency_key)]
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        if not self.methods or "POST" not in self.methods:
            return handle

        async def handle_once(request: Request) -> Response:
            try:
                response = await handle(request)
            except _Replayed as replayed:
                return replayed.response
            except DomainError:
                pending = getattr(request.state, PENDING_STATE, None)
                if pending is None:
                    raise
                # Lost a race with the same key? Then its record answers.
                key, fingerprint, store = pending
                stored = await store.find(key)
                if stored is None:
                    raise
                return replay(stored, fingerprint)
            pending = getattr(request.state, PENDING_STATE, None)
            if pending is None:
                return response
            key, fingerprint, store = pending
            if 200 <= response.status_code < 300:
                kept = {
                    name: value
                    for name, value in response.headers.items()
                    if name.lower() in KEPT_HEADERS
                }
                await store.save(key, fingerprint, response.status_code, kept, bytes(response.body))
            return response

        return handle_once
