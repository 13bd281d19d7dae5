"""The dashboard's client-credentials flow against the real token endpoint, over HTTP.

A uvicorn server on a free loopback port serves the platform's token endpoint and a
product API protected by the same settings; the catalog's ``ClientCredentials`` gets a
token from one and calls the other through an ordinary ``httpx.AsyncClient``: no mock
transport in between (one hid a crash: the token answer's body was never read).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import SecretStr

from dpmesh.auth import token_router
from shared_kernel.infrastructure.oauth import ClientCredentials, TokenUnavailable
from shared_kernel.interfaces.app import create_api
from shared_kernel.interfaces.auth import Authenticator, AuthSettings, OAuthClient
from tests.platform.serving import served

pytestmark = pytest.mark.integration

SETTINGS = AuthSettings(
    jwt_secret=SecretStr("a-signing-key-of-well-over-32-bytes!"),
    environment="ci",
    clients={"dashboard": OAuthClient(secret=SecretStr("dash-secret"), scopes=["ctx:things:read"])},
)


def platform() -> FastAPI:
    auth = Authenticator(SETTINGS)
    products = APIRouter(dependencies=[Depends(auth.require_scopes("ctx:things:read"))])

    @products.get("/api/v1/products/things")
    async def things() -> dict[str, int]:
        return {"count": 3}

    return create_api(title="platform", description="t", routers=[token_router(SETTINGS), products])


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with served(platform()) as url:
        yield url


async def test_the_flow_gets_a_token_and_calls_the_product_over_http(base_url: str) -> None:
    auth = ClientCredentials(f"{base_url}/oauth/token", "dashboard", "dash-secret")
    async with httpx.AsyncClient(auth=auth) as client:
        first = await client.get(f"{base_url}/api/v1/products/things")
        second = await client.get(f"{base_url}/api/v1/products/things")

    assert (first.status_code, first.json()) == (200, {"count": 3})
    assert second.status_code == 200
    assert auth.tokens_fetched == 1


async def test_a_refused_client_is_a_clear_error(base_url: str) -> None:
    auth = ClientCredentials(f"{base_url}/oauth/token", "dashboard", "wrong")
    async with httpx.AsyncClient(auth=auth) as client:
        with pytest.raises(TokenUnavailable, match="answered 401: unknown client or wrong secret"):
            await client.get(f"{base_url}/api/v1/products/things")
