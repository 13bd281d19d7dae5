"""The platform's token endpoint: OAuth 2.0 client credentials (RFC 6749 §4.4).

``POST /oauth/token`` with an ``application/x-www-form-urlencoded`` body::

    grant_type=client_credentials&scope=<space-separated subset, optional>

and the client's credentials either in HTTP Basic (``Authorization: Basic``, RFC 6749
§2.3.1, the recommended way) or as ``client_id`` and ``client_secret`` form fields, never
both. The answer is RFC 6749 §5.1 JSON (``access_token``, ``token_type: Bearer``,
``expires_in``, ``scope``) with ``Cache-Control: no-store``; errors are §5.2 JSON
(``{"error": ..., "error_description": ...}``), not problem documents, because OAuth
client libraries read that shape:

- ``invalid_request`` (400): a parameter missing or repeated, a wrong content type, two
  ways of authenticating at once;
- ``invalid_client`` (401, with ``WWW-Authenticate: Basic``): unknown client or wrong
  secret; the two are not told apart;
- ``unsupported_grant_type`` (400): any grant but ``client_credentials``;
- ``invalid_scope`` (400): a scope the client may not have (the description names it).

Without ``scope`` the token carries every scope the client is allowed. The token is an
HS256 JWT (RFC 9068 profile: ``typ: at+jwt``; claims ``iss``, ``aud``, ``sub`` and
``client_id`` = the client, ``scope``, ``iat``, ``nbf``, ``exp``, ``jti``) that every
API verifies with :class:`shared_kernel.interfaces.auth.Authenticator`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import math
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from time import monotonic
from typing import Any, Final
from urllib.parse import parse_qsl, unquote_plus

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import SecretStr

from dpmesh.runtime.contexts import manifests
from shared_kernel.infrastructure.bitol import ODPS_PATTERN, access_scopes, read_documents
from shared_kernel.interfaces.auth import (
    ALGORITHM,
    DEMO,
    TOKEN_TYPE,
    AuthSettings,
    OAuthClient,
)
from shared_kernel.interfaces.keys import (
    ASYMMETRIC_ALGORITHM,
    SigningKey,
    jwks,
    load_public_pem,
)
from shared_kernel.interfaces.manifest import ContextManifest

__all__ = [
    "CLIENT_CREDENTIALS",
    "DEMO_CLIENTS",
    "JWKS_PATH",
    "TOKEN_PATH",
    "FailedAttempts",
    "issue_token",
    "resolve_clients",
    "token_router",
]

logger = logging.getLogger(__name__)

TOKEN_PATH: Final = "/oauth/token"
JWKS_PATH: Final = "/.well-known/jwks.json"
CLIENT_CREDENTIALS: Final = "client_credentials"
FORM: Final = "application/x-www-form-urlencoded"
MAX_BODY_BYTES: Final = 8192
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}

Clock = Callable[[], datetime]


def _product_read_scopes(manifest: ContextManifest) -> list[str]:
    """The ``accessScope`` of every output port in the context's ODPS product files."""
    return access_scopes(read_documents(manifest.dataproduct_dir, ODPS_PATTERN, "DataProduct"))


def _demo_clients(contexts: list[ContextManifest]) -> dict[str, OAuthClient]:
    """Demonstration clients over every registered context's products and operations."""
    products = [scope for manifest in contexts for scope in _product_read_scopes(manifest)]
    reads = [manifest.operations_scopes[0] for manifest in contexts]
    writes = [manifest.operations_scopes[1] for manifest in contexts]
    catalog = [f"catalog:{manifest.name}:write" for manifest in contexts]
    return {
        "demo-analyst": OAuthClient(
            secret=SecretStr("demo-analyst-secret"),
            scopes=products,
            description="Reads every data product; no operational access.",
        ),
        "demo-operator": OAuthClient(
            secret=SecretStr("demo-operator-secret"),
            scopes=[*reads, *writes, *catalog],
            description="Runs every context's operations (the demo's simulator) and registers "
            "its products.",
        ),
        "demo-dashboard": OAuthClient(
            secret=SecretStr("demo-dashboard-secret"),
            scopes=[*products, *reads],
            description="Read-only: every data product and the operational resources.",
        ),
    }


#: Demonstration clients, used only in the ``local`` environment and only while
#: ``DPMESH_AUTH_CLIENTS`` is not set. Their secrets are published in the docs
#: (docs/access-control.md): never use them anywhere else. Their scopes are those of
#: the registered contexts (the ``accessScope`` of each product's output ports, and
#: each context's operations scopes).
DEMO_CLIENTS: Final[Mapping[str, OAuthClient]] = _demo_clients(manifests())


def resolve_clients(settings: AuthSettings) -> Mapping[str, OAuthClient]:
    """The configured clients; the demo clients when none are and this is the ``demo``
    environment (their secrets are public: nowhere else, not even ``local``, where a
    key set on a laptop would otherwise hand out write scopes to anyone)."""
    if settings.clients:
        return settings.clients
    if settings.environment == DEMO:
        logger.warning(
            "no DPMESH_AUTH_CLIENTS configured: the token endpoint serves the demo clients "
            "(%s) whose secrets are public; configure real clients outside a laptop",
            ", ".join(DEMO_CLIENTS),
        )
        return DEMO_CLIENTS
    return {}


def issue_token(
    settings: AuthSettings,
    client_id: str,
    scopes: Sequence[str],
    *,
    now: datetime,
    ttl_s: int | None = None,
) -> str:
    """A signed access token for ``client_id`` with ``scopes``, valid from ``now``."""
    ttl = settings.token_ttl_s if ttl_s is None else ttl_s
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": client_id,
        "client_id": client_id,
        "scope": " ".join(scopes),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "jti": str(uuid.uuid4()),
    }
    if settings.signing_key is not None:
        key = SigningKey.from_pem(settings.signing_key.get_secret_value())
        return jwt.encode(
            claims,
            key.private,
            algorithm=ASYMMETRIC_ALGORITHM,
            headers={"typ": TOKEN_TYPE, "kid": key.kid},
        )
    return jwt.encode(
        claims, settings.signing_key_hs256(), algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE}
    )


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def response(self) -> JSONResponse:
        headers = dict(_NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="dpmesh", charset="UTF-8"'
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            status_code=self.status,
            headers=headers,
        )


def _invalid_request(description: str) -> _OAuthError:
    return _OAuthError(400, "invalid_request", description)


#: The error body of the token endpoint (RFC 6749 §5.2), not a problem document.
OAUTH_ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
    },
}

_OPENAPI: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": [CLIENT_CREDENTIALS]},
                        "scope": {
                            "type": "string",
                            "description": "Space-separated scopes; all allowed ones if left out.",
                        },
                        "client_id": {
                            "type": "string",
                            "description": "Only when not using HTTP Basic.",
                        },
                        "client_secret": {
                            "type": "string",
                            "description": "Only when not using HTTP Basic.",
                        },
                    },
                }
            }
        },
    },
    "responses": {
        "200": {
            "description": "An access token (RFC 6749 §5.1)",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["access_token", "token_type", "expires_in", "scope"],
                        "properties": {
                            "access_token": {"type": "string"},
                            "token_type": {"type": "string", "enum": ["Bearer"]},
                            "expires_in": {"type": "integer"},
                            "scope": {"type": "string"},
                        },
                    }
                }
            },
        },
        "400": {
            "description": "invalid_request, unsupported_grant_type or invalid_scope",
            "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}},
        },
        "401": {
            "description": "invalid_client",
            "content": {"application/json": {"schema": OAUTH_ERROR_SCHEMA}},
        },
    },
}


def token_router(
    settings: AuthSettings,
    clients: Mapping[str, OAuthClient] | None = None,
    *,
    clock: Clock | None = None,
    attempts: FailedAttempts | None = None,
) -> APIRouter:
    """``POST /oauth/token`` for ``clients`` (default: :func:`resolve_clients`).

    Without a signing key (``DPMESH_AUTH_SIGNING_KEY``) the route still exists and
    answers 503, so a platform can mount it unconditionally; the OpenAPI document then
    leaves it out, since it cannot serve what the document would promise.
    """
    known = resolve_clients(settings) if clients is None else clients
    now = clock or (lambda: datetime.now(UTC))
    limiter = attempts or FailedAttempts()
    router = APIRouter(tags=["oauth"])
    can_issue = settings.signing_key is not None or settings.jwt_secret is not None
    if not can_issue:
        logger.warning(
            "no DPMESH_AUTH_SIGNING_KEY (or DPMESH_AUTH_JWT_SECRET): %s answers 503", TOKEN_PATH
        )

    # The settings do not change while the router lives: the key set is built once.
    published: dict[str, Any] = {"keys": []}
    if settings.signing_key is not None:
        own = SigningKey.from_pem(settings.signing_key.get_secret_value())
        published = jwks([own.public, *map(load_public_pem, settings.published_public_keys)])

    @router.get(
        JWKS_PATH,
        summary="The public keys that verify this issuer's tokens (RFC 7517)",
        response_class=JSONResponse,
    )
    async def keys() -> JSONResponse:
        """Verifiers cache this set and fetch it again when a token names a new key."""
        return JSONResponse(published, headers={"Cache-Control": "max-age=60"})

    @router.post(
        TOKEN_PATH,
        summary="Get an access token with the client-credentials grant (RFC 6749 §4.4)",
        openapi_extra=_OPENAPI,
        response_class=JSONResponse,
        include_in_schema=can_issue,
    )
    async def token(request: Request) -> JSONResponse:
        if not can_issue:
            return JSONResponse(
                {
                    "error": "temporarily_unavailable",
                    "error_description": "token issuing is not configured",
                },
                status_code=503,
                headers=_NO_STORE,
            )
        address = request.client.host if request.client else "unknown"
        keys: list[tuple[str, str]] = [("address", address)]
        try:
            form = await _form(request)
            claimed, secret = _credentials(request, form)
            keys.append(("client", claimed))
            wait = limiter.retry_after(keys, monotonic())
            if wait is not None:
                return _too_many(wait)
            client_id = _authenticate(claimed, secret, known)
            scopes = _granted_scopes(form, known[client_id])
        except _OAuthError as error:
            if error.error == "invalid_client":
                limiter.failed(keys, monotonic())
                logger.info("token refused: %s", error.description)
            return error.response()
        moment = now()
        access_token = issue_token(settings, client_id, scopes, now=moment)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": settings.token_ttl_s,
                "scope": " ".join(scopes),
            },
            headers=_NO_STORE,
        )

    return router


def _too_many(wait_s: float) -> JSONResponse:
    return JSONResponse(
        {
            "error": "too_many_attempts",
            "error_description": "too many failed authentications; try again later",
        },
        status_code=429,
        headers={**_NO_STORE, "Retry-After": str(max(1, math.ceil(wait_s)))},
    )


async def _form(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        raise _invalid_request(f"the request body must be {FORM}")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise _invalid_request("the request body is too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid_request("the request body is not a valid form") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            # RFC 6749 §3.2: request parameters must not be included more than once.
            raise _invalid_request(f"the parameter {name!r} is repeated")
        form[name] = value
    grant = form.get("grant_type")
    if not grant:
        raise _invalid_request("grant_type is required")
    if grant != CLIENT_CREDENTIALS:
        raise _OAuthError(
            400, "unsupported_grant_type", f"only {CLIENT_CREDENTIALS} is supported here"
        )
    return form


def _credentials(request: Request, form: Mapping[str, str]) -> tuple[str, str]:
    """The client id and secret the request carries (HTTP Basic or the form)."""
    scheme, encoded = get_authorization_scheme_param(request.headers.get("authorization"))
    in_form = "client_id" in form or "client_secret" in form
    if scheme:
        if scheme.lower() != "basic":
            raise _OAuthError(401, "invalid_client", f"unsupported authentication {scheme}")
        if in_form:
            raise _invalid_request("authenticate with HTTP Basic or the form, not both")
        return _basic(encoded)
    if in_form:
        return form.get("client_id", ""), form.get("client_secret", "")
    raise _OAuthError(401, "invalid_client", "no client credentials were sent")


def _authenticate(client_id: str, secret: str, clients: Mapping[str, OAuthClient]) -> str:
    """``client_id`` if ``secret`` is its secret."""
    client = clients.get(client_id)
    # Compare against something even for an unknown client, so timing does not tell.
    expected = client.secret.get_secret_value() if client else "\0" * 32
    if not hmac.compare_digest(secret.encode(), expected.encode()) or client is None:
        raise _OAuthError(401, "invalid_client", "unknown client or wrong secret")
    return client_id


#: Past this many keys with failures, those without a recent one are forgotten.
MAX_TRACKED_KEYS = 100_000


class FailedAttempts:
    """Failed authentications per client id and per address over a sliding window.

    Past ``per_client`` failures for one client id, or ``per_address`` from one
    address, within ``window_s``, the endpoint answers 429 without looking at the
    secret: guessing a secret costs a window per few tries. In memory, per process.
    """

    def __init__(
        self, *, per_client: int = 5, per_address: int = 20, window_s: float = 60.0
    ) -> None:
        self.limits = {"client": per_client, "address": per_address}
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def retry_after(self, keys: Sequence[tuple[str, str]], now: float) -> float | None:
        """Seconds until the first of ``keys`` may try again; None if none is blocked."""
        waits = []
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.limits[key[0]]:
                waits.append(times[0] + self.window_s - now)
        return max(waits) if waits else None

    def failed(self, keys: Sequence[tuple[str, str]], now: float) -> None:
        if len(self._failures) > MAX_TRACKED_KEYS:
            self._forget_quiet(now)
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def _recent(self, key: tuple[str, str], now: float) -> Sequence[float]:
        """The key's failures within the window (looked up, never stored, so that a
        flood of made-up client ids costs no memory unless they fail)."""
        times = self._failures.get(key)
        if times is None:
            return ()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def _forget_quiet(self, now: float) -> None:
        for key in [key for key in self._failures if not self._recent(key, now)]:
            del self._failures[key]


def _basic(encoded: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _OAuthError(401, "invalid_client", "malformed Basic credentials") from exc
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise _OAuthError(401, "invalid_client", "malformed Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Base64.
    return unquote_plus(client_id), unquote_plus(secret)


def _granted_scopes(form: Mapping[str, str], client: OAuthClient) -> list[str]:
    allowed = list(dict.fromkeys(client.scopes))
    requested = form.get("scope")
    if requested is None:
        return allowed
    asked = list(dict.fromkeys(part for part in requested.split(" ") if part))
    if not asked:
        raise _OAuthError(400, "invalid_scope", "scope is empty")
    refused = [scope for scope in asked if scope not in allowed]
    if refused:
        raise _OAuthError(
            400, "invalid_scope", f"the client may not have the scope(s) {' '.join(refused)}"
        )
    return asked
