"""``POST /oauth/token``: the client-credentials grant of RFC 6749 §4.4, answered as §5.

Tokens issued here are checked with the verifier every API uses, so the round trip
(issue, then accept) is what is tested, not the JWT library.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import httpx
import jwt
import pytest
from pydantic import SecretStr

from dpmesh.auth import DEMO_CLIENTS, issue_token, resolve_clients, token_router
from dpmesh.auth.tokens import FailedAttempts
from shared_kernel.interfaces.app import create_api
from shared_kernel.interfaces.auth import (
    AuthConfigurationError,
    Authenticator,
    AuthSettings,
    InvalidToken,
    OAuthClient,
)

SECRET = "a-signing-key-of-well-over-32-bytes!"
NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
FORM = {"content-type": "application/x-www-form-urlencoded"}

CLIENTS = {
    "reporter": OAuthClient(
        secret=SecretStr("s3cret: with spaces&symbols"),
        scopes=["ctx:products:read", "ctx:alerts:read"],
    ),
    "writer": OAuthClient(secret=SecretStr("writer-secret"), scopes=["ctx:operations:write"]),
}


def settings(**overrides: object) -> AuthSettings:
    values: dict[str, object] = {"jwt_secret": SECRET, "environment": "ci"} | overrides
    return AuthSettings(**values)  # type: ignore[arg-type]


def basic(client_id: str, secret: str) -> dict[str, str]:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"authorization": "Basic " + base64.b64encode(pair).decode()}


def client_for(
    auth: AuthSettings, clients: Mapping[str, OAuthClient] | None = CLIENTS
) -> httpx.AsyncClient:
    app = create_api(
        title="token endpoint",
        description="test",
        routers=[token_router(auth, clients, clock=lambda: NOW)],
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://auth")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(settings()) as http:
        yield http


def verifier(at: datetime = NOW) -> Authenticator:
    return Authenticator(settings(), clock=lambda: at)


async def test_a_client_authenticated_with_basic_gets_every_scope_it_may_have(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/oauth/token",
        content="grant_type=client_credentials",
        headers=FORM | basic("reporter", "s3cret: with spaces&symbols"),
    )

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "ctx:products:read ctx:alerts:read"
    principal = verifier().verify(body["access_token"])
    assert principal.client_id == "reporter"
    assert principal.scopes == {"ctx:products:read", "ctx:alerts:read"}
    claims = principal.claims
    assert (claims["iss"], claims["aud"], claims["sub"]) == (
        "urn:dpmesh:auth",
        "urn:dpmesh:api",
        "reporter",
    )
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iat"] == int(NOW.timestamp())
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"


async def test_form_credentials_and_a_subset_of_the_scopes(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "reporter",
            "client_secret": "s3cret: with spaces&symbols",
            "scope": "ctx:alerts:read",
        },
    )

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "ctx:alerts:read"
    principal = verifier().verify(response.json()["access_token"])
    assert principal.scopes == {"ctx:alerts:read"}


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("reporter", "wrong"), ("nobody", "s3cret: with spaces&symbols"), ("writer", "")],
)
async def test_a_wrong_secret_or_an_unknown_client_is_invalid_client(
    client: httpx.AsyncClient, client_id: str, secret: str
) -> None:
    response = await client.post(
        "/oauth/token",
        content="grant_type=client_credentials",
        headers=FORM | basic(client_id, secret),
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert "access_token" not in response.json()


async def test_no_credentials_at_all_is_invalid_client(client: httpx.AsyncClient) -> None:
    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_another_grant_is_unsupported(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "u", "password": "p"},
        headers=basic("writer", "writer-secret"),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_a_scope_the_client_may_not_have_is_invalid_scope(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "ctx:operations:write ctx:admin"},
        headers=basic("reporter", "s3cret: with spaces&symbols"),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_scope"
    assert "ctx:operations:write ctx:admin" in body["error_description"]


@pytest.mark.parametrize(
    ("content", "headers", "why"),
    [
        ("client_id=writer&client_secret=writer-secret", FORM, "grant_type is required"),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            FORM | basic("writer", "writer-secret"),
            "repeated",
        ),
        (
            '{"grant_type": "client_credentials"}',
            {"content-type": "application/json"} | basic("writer", "writer-secret"),
            "x-www-form-urlencoded",
        ),
        (
            "grant_type=client_credentials&client_id=writer&client_secret=writer-secret",
            FORM | basic("writer", "writer-secret"),
            "not both",
        ),
    ],
)
async def test_malformed_requests_are_invalid_request(
    client: httpx.AsyncClient, content: str, headers: dict[str, str], why: str
) -> None:
    response = await client.post("/oauth/token", content=content, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert why in response.json()["error_description"]


async def test_without_a_signing_key_the_endpoint_answers_503_and_is_not_documented() -> None:
    async with client_for(AuthSettings(environment="local")) as http:
        response = await http.post(
            "/oauth/token",
            content="grant_type=client_credentials",
            headers=FORM | basic("writer", "writer-secret"),
        )
        document = (await http.get("/openapi.json")).json()
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "/oauth/token" not in document["paths"]


async def test_the_demo_clients_serve_the_demo_only() -> None:
    local = settings(environment="demo")
    assert resolve_clients(local) is DEMO_CLIENTS
    assert resolve_clients(settings()) == {}
    # A key set on a laptop (local) hands out no public credentials.
    assert resolve_clients(settings(environment="local")) == {}
    assert resolve_clients(settings(clients=CLIENTS)) == CLIENTS

    async with client_for(local, None) as http:
        response = await http.post(
            "/oauth/token",
            content="grant_type=client_credentials",
            headers=FORM | basic("demo-analyst", "demo-analyst-secret"),
        )
    assert response.status_code == 200, response.text
    assert "supply_chain:inventory-levels:read" in response.json()["scope"].split()
    assert "supply_chain:operations:write" not in response.json()["scope"].split()


def test_clients_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPMESH_AUTH_JWT_SECRET", SECRET)
    monkeypatch.setenv(
        "DPMESH_AUTH_CLIENTS", '{"bi": {"secret": "bi-secret", "scopes": ["a:b:read"]}}'
    )
    monkeypatch.setenv("DPMESH_ENVIRONMENT", "staging")

    loaded = AuthSettings()

    assert loaded.environment == "staging"
    assert loaded.clients["bi"].scopes == ["a:b:read"]
    assert loaded.clients["bi"].secret.get_secret_value() == "bi-secret"


# -- the verifier against issued tokens ------------------------------------------------------


def test_an_expired_token_is_refused_after_the_leeway() -> None:
    token = issue_token(settings(), "writer", ["ctx:operations:write"], now=NOW, ttl_s=60)

    assert verifier(NOW + timedelta(seconds=60 + 29)).verify(token).client_id == "writer"
    with pytest.raises(InvalidToken, match="expired"):
        verifier(NOW + timedelta(seconds=60 + 30)).verify(token)
    with pytest.raises(InvalidToken, match="not valid yet"):
        verifier(NOW - timedelta(seconds=31)).verify(token)


@pytest.mark.parametrize(
    ("issuer_settings", "reason"),
    [
        (settings(jwt_secret="another-key-that-is-also-32-bytes-long"), "signature"),
        (settings(audience="urn:other:api"), "audience"),
        (settings(issuer="urn:other:auth"), "issuer"),
    ],
)
def test_tokens_from_elsewhere_are_refused(issuer_settings: AuthSettings, reason: str) -> None:
    token = issue_token(issuer_settings, "writer", ["ctx:operations:write"], now=NOW)
    with pytest.raises(InvalidToken, match=reason):
        verifier().verify(token)


def test_a_token_with_another_algorithm_or_no_subject_is_refused() -> None:
    unsigned = jwt.encode({"sub": "x"}, key=None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(InvalidToken, match="HS256"):
        verifier().verify(unsigned)
    no_subject = jwt.encode(
        {"iss": "urn:dpmesh:auth", "aud": "urn:dpmesh:api", "iat": 1, "exp": 2},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(InvalidToken, match="'sub'"):
        verifier().verify(no_subject)
    with pytest.raises(InvalidToken, match="malformed"):
        verifier().verify("not.a.token")


# -- settings --------------------------------------------------------------------------------


def test_a_short_secret_is_refused_everywhere() -> None:
    for environment in ("production", "local", "demo"):
        with pytest.raises(ValueError, match="at least 32 bytes"):
            AuthSettings(jwt_secret=SecretStr("short"), environment=environment)


def test_access_control_follows_the_key_unless_forced() -> None:
    assert not AuthSettings(environment="local").access_control
    assert AuthSettings(environment="local", jwt_secret=SecretStr(SECRET)).access_control
    with pytest.raises(ValueError, match="no key is set"):
        AuthSettings(enabled=True)
    with pytest.raises(AuthConfigurationError, match="production"):
        Authenticator(AuthSettings(environment="production"))
    off = Authenticator(AuthSettings(environment="production", enabled=False))
    assert not off.enabled
    assert off.verify("anything").unrestricted


async def test_guessing_a_secret_is_stopped_after_a_few_failures(
    client: httpx.AsyncClient,
) -> None:
    form = {"grant_type": "client_credentials"}
    wrong = [
        await client.post("/oauth/token", data=form, headers=basic("reporter", f"guess-{n}"))
        for n in range(5)
    ]
    assert {answer.status_code for answer in wrong} == {401}
    # The right secret now too: the client is locked for the window, the secret unread.
    locked = await client.post(
        "/oauth/token", data=form, headers=basic("reporter", "s3cret: with spaces&symbols")
    )
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    assert locked.json()["error"] == "too_many_attempts"
    # Another client from elsewhere is not affected by the reader's lock.
    other = await client.post("/oauth/token", data=form, headers=basic("writer", "writer-secret"))
    assert other.status_code == 200


def test_failures_expire_after_the_window() -> None:
    attempts = FailedAttempts(per_client=2, per_address=100, window_s=10)
    keys = [("client", "reader"), ("address", "10.0.0.1")]
    attempts.failed(keys, now=0)
    attempts.failed(keys, now=1)
    assert attempts.retry_after(keys, now=2) == pytest.approx(8)
    assert attempts.retry_after(keys, now=11.5) is None
