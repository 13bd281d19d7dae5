"""Access control for every API: OAuth2 client-credentials bearer tokens (signed JWTs).

A caller gets a token from the platform's token endpoint (``POST /oauth/token``, RFC
6749 §4.4) and sends it as ``Authorization: Bearer <token>``. Each route says which
scopes it needs with a dependency from :meth:`Authenticator.require_scopes`::

    auth = Authenticator(AuthSettings())
    app.include_router(router, dependencies=[Depends(auth.require_scopes("ctx:thing:read"))])

- no token, or one that is malformed, badly signed, expired, not yet valid, or meant
  for another issuer or audience: **401** problem+json with ``WWW-Authenticate: Bearer``
  (RFC 6750 §3: ``error="invalid_token"`` when a token was presented);
- a valid token without a required scope: **403** problem+json naming the missing
  scopes, and ``WWW-Authenticate: Bearer error="insufficient_scope", scope="..."``.

The dependency declares the scheme and its scopes through ``fastapi.Security``, so the
OpenAPI document shows an OAuth2 ``clientCredentials`` flow with its token URL and, per
operation, the scopes it needs.

When is access control on? ``DPMESH_AUTH_ENABLED`` decides when it is set. Left unset,
it is on as soon as a signing key is configured (``DPMESH_AUTH_JWT_SECRET``). Without a
key, the ``local`` environment (``DPMESH_ENVIRONMENT``, the default) runs without access
control and says so loudly in the log at start-up, so that a checkout works at once;
any other environment refuses to start, because an API that silently serves everyone
is worse than one that does not start (``demo``, the one-command demo, is treated like
``local``). Keys are HS256 secrets of at least 32 bytes (RFC 7518 §3.2), everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jwt
from fastapi import HTTPException, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import HTTPConnection

from shared_kernel.interfaces.keys import (
    ASYMMETRIC_ALGORITHM,
    SigningKey,
    load_public_pem,
    public_jwk,
)

__all__ = [
    "ALGORITHM",
    "AUTH_RESPONSES",
    "DEMO",
    "LOCAL",
    "MIN_SECRET_BYTES",
    "REALM",
    "TOKEN_TYPE",
    "AuthConfigurationError",
    "AuthSettings",
    "Authenticator",
    "InvalidToken",
    "OAuthClient",
    "Principal",
    "ScopeDependency",
    "parse_scopes",
]

logger = logging.getLogger(__name__)

ALGORITHM: Final = "HS256"
MIN_SECRET_BYTES: Final = 32
LOCAL: Final = "local"
#: The one-command demo: like ``local``, and the only place the demo clients exist.
DEMO: Final = "demo"
#: Where access control may be off without saying ``DPMESH_AUTH_ENABLED=false``.
UNPROTECTED_ALLOWED: Final = frozenset({LOCAL, DEMO})
REALM: Final = "dpmesh"
SCHEME_NAME: Final = "OAuth2"
#: RFC 9068 ``typ`` of an access token in JWT form.
TOKEN_TYPE: Final = "at+jwt"

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AuthConfigurationError(RuntimeError):
    """The settings cannot protect the API as asked (no key outside ``local``, ...)."""


class InvalidToken(Exception):
    """A presented token cannot be trusted; ``reason`` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OAuthClient(BaseModel):
    """A client allowed to get tokens: its secret and the scopes it may ask for."""

    secret: SecretStr
    scopes: list[str] = Field(default_factory=list)
    description: str | None = None


class AuthSettings(BaseSettings):
    """``DPMESH_AUTH_*``: one set for the token endpoint and every API verifying tokens.

    ``clients`` (``DPMESH_AUTH_CLIENTS``) is JSON: ``{"<client_id>": {"secret": "...",
    "scopes": ["..."]}}``; only the token endpoint reads it.
    """

    model_config = SettingsConfigDict(env_prefix="DPMESH_AUTH_", extra="ignore")

    environment: str = Field(
        default=LOCAL,
        validation_alias=AliasChoices("DPMESH_ENVIRONMENT", "environment"),
        description="Where this runs (DPMESH_ENVIRONMENT): local, ci, staging, production...",
    )
    enabled: bool | None = Field(
        default=None,
        description="Force access control on or off; unset: on when a key is configured.",
    )
    issuer: str = "urn:dpmesh:auth"
    audience: str = "urn:dpmesh:api"
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 key shared by the issuer and every verifier (anyone who can verify "
        "can also mint); prefer signing_key with jwks_url.",
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="The token endpoint's Ed25519 private key (PEM): EdDSA tokens with a kid.",
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="A file holding signing_key (a mounted secret, or the key `dpmesh "
        "auth-key` wrote); read at start-up when signing_key is unset.",
    )
    published_public_keys: list[str] = Field(
        default_factory=list,
        description="Other public keys (PEM) the JWKS publishes besides the signing key's: "
        "the next key before it signs, earlier ones while their tokens live (rotation).",
    )
    jwks_url: str | None = Field(
        default=None,
        description="Where an API fetches the issuer's public keys (the catalog's "
        "/.well-known/jwks.json): it verifies EdDSA tokens and cannot mint any.",
    )
    jwks_cache_s: int = Field(default=300, ge=1, le=86_400)
    token_url: str = Field(
        default="http://127.0.0.1:8100/oauth/token",
        description="Where clients get tokens; shown in the OpenAPI document.",
    )
    token_ttl_s: int = Field(default=900, ge=60, le=86_400)
    leeway_s: int = Field(default=30, ge=0, le=300, description="Clock skew tolerated.")
    clients: dict[str, OAuthClient] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _strong_enough(self) -> AuthSettings:
        if self.signing_key is None and self.signing_key_file is not None:
            try:
                pem = self.signing_key_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"DPMESH_AUTH_SIGNING_KEY_FILE cannot be read: {exc}") from exc
            self.signing_key = SecretStr(pem)
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret is not None else None
        if secret is not None and not secret:
            raise ValueError("DPMESH_AUTH_JWT_SECRET is empty")
        if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"DPMESH_AUTH_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes, in every "
                "environment (RFC 7518 §3.2): a short key is guessed offline from one token"
            )
        if self.enabled is True and not self.has_keys:
            raise ValueError(
                "DPMESH_AUTH_ENABLED is true but no key is set (DPMESH_AUTH_JWKS_URL, "
                "DPMESH_AUTH_SIGNING_KEY or DPMESH_AUTH_JWT_SECRET)"
            )
        if self.signing_key is not None:
            SigningKey.from_pem(self.signing_key.get_secret_value())  # refuse a bad key now
        return self

    @property
    def has_keys(self) -> bool:
        return self.jwt_secret is not None or self.signing_key is not None or bool(self.jwks_url)

    @property
    def asymmetric(self) -> bool:
        """EdDSA tokens (a signing key or a JWKS URL), rather than a shared secret."""
        return self.signing_key is not None or bool(self.jwks_url)

    @property
    def access_control(self) -> bool:
        """Whether APIs verify tokens (see the module docstring for the rule)."""
        if self.enabled is not None:
            return self.enabled
        return self.has_keys

    def signing_key_hs256(self) -> str:
        if self.jwt_secret is None:
            raise AuthConfigurationError("no signing key: set DPMESH_AUTH_JWT_SECRET")
        return self.jwt_secret.get_secret_value()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who called, as the token says: the client and the scopes it was granted."""

    subject: str
    client_id: str
    scopes: frozenset[str]
    claims: Mapping[str, Any] = field(default_factory=dict)
    #: True only when access control is off: every scope is taken as granted.
    unrestricted: bool = False

    def has(self, scope: str) -> bool:
        return self.unrestricted or scope in self.scopes

    def missing(self, scopes: Iterable[str]) -> list[str]:
        return [scope for scope in scopes if not self.has(scope)]


UNRESTRICTED = Principal("anonymous", "anonymous", frozenset(), unrestricted=True)

ScopeDependency = Callable[..., Awaitable[Principal]]


def parse_scopes(value: object) -> frozenset[str]:
    """Scopes from a ``scope`` claim (space-delimited, RFC 8693 §4.2) or a ``scp`` list."""
    if isinstance(value, str):
        return frozenset(part for part in value.split(" ") if part)
    if isinstance(value, list | tuple):
        return frozenset(str(part) for part in value if str(part))
    return frozenset()


class ClientCredentialsBearer(OAuth2):
    """OAuth2 with the client-credentials flow; yields the bearer token or None."""

    def __init__(self, token_url: str, scopes: dict[str, str]) -> None:
        flows = OAuthFlows(
            clientCredentials=OAuthFlowClientCredentials(tokenUrl=token_url, scopes=scopes)
        )
        super().__init__(
            flows=flows,
            scheme_name=SCHEME_NAME,
            description="OAuth2 client credentials (RFC 6749 §4.4): POST client_id and "
            "client_secret to the token URL, then send `Authorization: Bearer <token>`.",
            auto_error=False,
        )

    async def __call__(self, request: HTTPConnection) -> str | None:
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        if not scheme or scheme.lower() != "bearer" or not token:
            return None
        return token


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "No bearer token, or one that is invalid or expired",
        "content": {"application/problem+json": {}},
    },
    403: {
        "description": "The token lacks a scope this operation needs",
        "content": {"application/problem+json": {}},
    },
}


class Authenticator:
    """Verifies bearer tokens and builds the scope-checking dependencies.

    ``scope_descriptions`` documents scopes in the OpenAPI document; every scope a
    dependency requires is listed there too, with a generic description if none given.
    """

    def __init__(
        self,
        settings: AuthSettings,
        *,
        scope_descriptions: Mapping[str, str] | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self.settings = settings
        self.enabled = settings.access_control
        self._public_keys: dict[str, Any] = {}
        self._jwks: jwt.PyJWKClient | None = None
        if self.enabled and settings.asymmetric:
            if settings.signing_key is not None:
                own = SigningKey.from_pem(settings.signing_key.get_secret_value())
                published = [own.public, *map(load_public_pem, settings.published_public_keys)]
                self._public_keys = {public_jwk(key)["kid"]: key for key in published}
            if settings.jwks_url:
                # An unknown kid refetches the set at most once per cooldown, so a flood
                # of made-up kids cannot turn every request into a fetch.
                self._jwks = jwt.PyJWKClient(
                    settings.jwks_url,
                    cache_jwk_set=True,
                    lifespan=settings.jwks_cache_s,
                    cooldown_duration=min(30.0, settings.jwks_cache_s),
                )
        elif self.enabled:
            self._key = settings.signing_key_hs256()
        elif settings.environment not in UNPROTECTED_ALLOWED and settings.enabled is None:
            raise AuthConfigurationError(
                f"access control is off in the {settings.environment!r} environment: set "
                "DPMESH_AUTH_JWT_SECRET (or DPMESH_AUTH_ENABLED=false to run unprotected "
                "on purpose)"
            )
        self._clock = clock
        self.scheme = ClientCredentialsBearer(settings.token_url, dict(scope_descriptions or {}))

    def warn_if_disabled(self, service: str) -> None:
        """Log, loudly, that ``service`` answers anyone (call it once at start-up)."""
        if not self.enabled:
            logger.warning(
                "ACCESS CONTROL IS OFF for %s: every request is served without a token "
                "(environment %r, no DPMESH_AUTH_JWT_SECRET). Set DPMESH_AUTH_JWT_SECRET "
                "to require tokens.",
                service,
                self.settings.environment,
            )

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; :class:`InvalidToken` otherwise.

        Time claims are checked against the injected clock, with ``leeway_s``.
        """
        if not self.enabled:
            return UNRESTRICTED
        try:
            header = jwt.get_unverified_header(token)
            algorithm = ASYMMETRIC_ALGORITHM if self.settings.asymmetric else ALGORITHM
            if header.get("alg") != algorithm:
                raise InvalidToken(f"the token must be signed with {algorithm}")
            key = self._verification_key(header) if self.settings.asymmetric else self._key
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={
                    "require": ["exp", "iat", "iss", "aud", "sub"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("the token signature does not verify") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the token is meant for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token comes from another issuer") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token has no {exc.claim!r} claim") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("the token is malformed") from exc
        self._check_times(claims)
        subject = str(claims["sub"])
        return Principal(
            subject=subject,
            client_id=str(claims.get("client_id", subject)),
            scopes=parse_scopes(claims.get("scope", claims.get("scp"))),
            claims=claims,
        )

    def _verification_key(self, header: Mapping[str, Any]) -> Any:
        """The issuer's public key named by the token's ``kid``: one of ours, or from the
        issuer's JWKS (fetched again, at most as the cache allows, for an unknown kid)."""
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no key (kid)")
        if kid in self._public_keys:
            return self._public_keys[kid]
        if self._jwks is not None:
            try:
                return self._jwks.get_signing_key(kid).key
            except jwt.PyJWKClientConnectionError as exc:
                raise InvalidToken("the issuer's keys cannot be fetched") from exc
            except jwt.PyJWKClientError as exc:
                raise InvalidToken("the token's key is not the issuer's") from exc
        raise InvalidToken("the token's key is not the issuer's")

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now = self._clock().timestamp()
        leeway = self.settings.leeway_s
        try:
            expires = float(claims["exp"])
            not_before = float(claims.get("nbf", claims["iat"]))
        except (TypeError, ValueError) as exc:
            raise InvalidToken("the token's time claims are not numbers") from exc
        if now >= expires + leeway:
            raise InvalidToken("the token has expired")
        if now + leeway < not_before:
            raise InvalidToken("the token is not valid yet")

    def authorize(self, token: str | None, scopes: Iterable[str]) -> Principal:
        """The principal of ``token`` if it carries every one of ``scopes``: for scopes
        only known per request (the catalog's ``catalog:<context>:write``). Raises the
        401 or 403 the dependencies raise; unrestricted when access control is off."""
        if not self.enabled:
            return UNRESTRICTED
        needed = list(scopes)
        principal = self._principal(token)
        missing = principal.missing(needed)
        if missing:
            raise _forbidden(missing, every=True)
        return principal

    def require_scopes(self, *scopes: str) -> ScopeDependency:
        """A dependency that lets a request through only with every one of ``scopes``."""
        return self._dependency(tuple(scopes), every=True)

    def require_any_scope(self, *scopes: str) -> ScopeDependency:
        """A dependency that lets a request through with at least one of ``scopes``."""
        if not scopes:
            raise ValueError("require_any_scope needs at least one scope")
        return self._dependency(tuple(scopes), every=False)

    def _dependency(self, scopes: tuple[str, ...], *, every: bool) -> ScopeDependency:
        if not self.enabled:

            async def unrestricted(request: Request) -> Principal:
                request.state.principal = UNRESTRICTED
                return UNRESTRICTED

            return unrestricted
        self._document(scopes)

        def check(request: Request, token: str | None) -> Principal:
            principal = self._principal(token)
            missing = principal.missing(scopes)
            if missing and (every or len(missing) == len(scopes)):
                raise _forbidden(missing, every=every)
            request.state.principal = principal
            return principal

        async def authorized(
            request: Request,
            token: str | None = Security(self.scheme, scopes=list(scopes)),
        ) -> Principal:
            return check(request, token)

        def gate(request: Request) -> None:
            """The same check from the request alone, for an error handler that must
            answer 401/403 before a 422 about a body FastAPI could not even parse."""
            scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
            check(request, token if scheme.lower() == "bearer" and token else None)

        authorized.request_gate = gate  # type: ignore[attr-defined]
        return authorized

    def _document(self, scopes: Iterable[str]) -> None:
        """List ``scopes`` in the OpenAPI flow (the document is built on first request)."""
        flows = self.scheme.model.flows  # type: ignore[attr-defined]
        described: dict[str, str] = flows.clientCredentials.scopes
        for scope in scopes:
            described.setdefault(scope, f"Scope {scope}.")

    def _principal(self, token: str | None) -> Principal:
        if token is None:
            raise HTTPException(
                status_code=401,
                detail="A bearer token is required: get one from "
                f"{self.settings.token_url} with the client-credentials grant.",
                headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
            )
        try:
            return self.verify(token)
        except InvalidToken as exc:
            raise HTTPException(
                status_code=401,
                detail=f"The bearer token is not accepted: {exc.reason}.",
                headers={
                    "WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token", '
                    f'error_description="{exc.reason}"'
                },
            ) from exc


def _forbidden(missing: list[str], *, every: bool) -> HTTPException:
    listed = " ".join(missing)
    detail = (
        f"The token lacks the scope(s) {', '.join(missing)}."
        if every
        else f"The token needs one of the scopes {', '.join(missing)}."
    )
    return HTTPException(
        status_code=403,
        detail=detail,
        headers={
            "WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", '
            f'scope="{listed}"'
        },
    )
