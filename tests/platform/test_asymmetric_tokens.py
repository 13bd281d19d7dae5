"""EdDSA tokens: the issuer signs with its private key, an API verifies with the public
keys it fetches from the issuer's JWKS, over HTTP, and can mint nothing; rotation keeps
every live token valid."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from pydantic import SecretStr

from dpmesh.auth import issue_token, token_router
from dpmesh.auth.tokens import JWKS_PATH
from shared_kernel.interfaces.app import create_api
from shared_kernel.interfaces.auth import Authenticator, AuthSettings, InvalidToken, OAuthClient
from shared_kernel.interfaces.keys import SigningKey
from tests.platform.serving import served

pytestmark = pytest.mark.integration

CLIENTS = {"reader": OAuthClient(secret=SecretStr("reader-secret"), scopes=["ctx:read"])}
NOW = datetime.now(UTC)


def issuer(key: SigningKey, *published: SigningKey) -> AuthSettings:
    return AuthSettings(
        environment="ci",
        signing_key=SecretStr(key.private_pem()),
        published_public_keys=[other.public_pem() for other in published],
        clients=CLIENTS,
    )


@pytest.fixture
async def issuing() -> AsyncIterator[tuple[str, list[AuthSettings]]]:
    """An issuer whose settings the test may replace (``settings[0] = ...``): its JWKS
    route reads them on each request, as a restarted issuer would."""
    current: list[AuthSettings] = [issuer(SigningKey.generate())]
    app = create_api(title="issuer", description="t")

    @app.get(JWKS_PATH)
    async def keys() -> object:
        router = token_router(current[0])
        for route in router.routes:
            if getattr(route, "path", None) == JWKS_PATH:
                return await route.endpoint()  # type: ignore[attr-defined]
        raise AssertionError("no JWKS route")

    async with served(app) as url:
        yield url, current


def verifier(url: str, cache_s: int = 300) -> Authenticator:
    return Authenticator(
        AuthSettings(environment="ci", jwks_url=f"{url}{JWKS_PATH}", jwks_cache_s=cache_s)
    )


async def test_a_token_verifies_with_the_published_key_only(
    issuing: tuple[str, list[AuthSettings]],
) -> None:
    url, current = issuing
    token = issue_token(current[0], "reader", ["ctx:read"], now=NOW)
    api = verifier(url)

    principal = await asyncio.to_thread(api.verify, token)

    assert principal.client_id == "reader"
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    async with httpx.AsyncClient() as client:
        keys = (await client.get(f"{url}{JWKS_PATH}")).json()["keys"]
    assert [key["kid"] for key in keys] == [jwt.get_unverified_header(token)["kid"]]
    assert all("d" not in key for key in keys), "a private key was published"


async def test_a_verifier_cannot_mint_and_foreign_tokens_are_refused(
    issuing: tuple[str, list[AuthSettings]],
) -> None:
    url, current = issuing
    api = verifier(url)
    stranger = issuer(SigningKey.generate())
    shared_secret = jwt.encode(
        {"sub": "me", "iss": current[0].issuer, "aud": current[0].audience},
        "a-guessed-or-leaked-secret-of-32-bytes!!",
        algorithm="HS256",
    )
    unsigned = jwt.encode({"sub": "me"}, None, algorithm="none")

    for token, reason in (
        (issue_token(stranger, "reader", ["ctx:read"], now=NOW), "not the issuer's"),
        (shared_secret, "must be signed with EdDSA"),
        (unsigned, "must be signed with EdDSA"),
    ):
        with pytest.raises(InvalidToken, match=reason):
            await asyncio.to_thread(api.verify, token)
    # The verifier's settings hold no private key: it has nothing to sign with.
    assert api.settings.signing_key is None


async def test_rotation_keeps_live_tokens_valid_until_the_old_key_is_dropped(
    issuing: tuple[str, list[AuthSettings]],
) -> None:
    url, current = issuing
    old = SigningKey.from_pem(current[0].signing_key.get_secret_value())  # type: ignore[union-attr]
    new = SigningKey.generate()
    api = verifier(url, cache_s=1)
    before = issue_token(current[0], "reader", ["ctx:read"], now=NOW)
    assert (await asyncio.to_thread(api.verify, before)).client_id == "reader"

    current[0] = issuer(old, new)  # step 1: the new key published before it signs
    await asyncio.sleep(1.5)  # the verifier's cache (1 s here) lapses: it learns the new key
    assert (await asyncio.to_thread(api.verify, before)).client_id == "reader"

    current[0] = issuer(new, old)  # step 2: signing with the new key, the old one published
    after = issue_token(current[0], "reader", ["ctx:read"], now=NOW)
    assert (await asyncio.to_thread(api.verify, after)).client_id == "reader"
    assert (await asyncio.to_thread(api.verify, before)).client_id == "reader"

    current[0] = issuer(new)  # step 3: the old key no longer published
    await asyncio.sleep(1.5)
    with pytest.raises(InvalidToken, match="not the issuer's"):
        await asyncio.to_thread(api.verify, before)
    assert (await asyncio.to_thread(api.verify, after)).client_id == "reader"


async def test_the_token_endpoint_issues_eddsa_tokens_with_the_signing_key() -> None:
    settings = issuer(SigningKey.generate())
    app = create_api(title="t", description="t", routers=[token_router(settings, CLIENTS)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://auth"
    ) as client:
        answer = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("reader", "reader-secret"),
        )
    token = answer.json()["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    assert Authenticator(settings).verify(token).client_id == "reader"
