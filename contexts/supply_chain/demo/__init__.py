"""What the supply chain brings to the demo: a fake carrier and its scenario simulator.

Named in the context's manifest (``fakes``, ``simulator``); the platform runs them with
``dpmesh fake supply_chain carrier`` and ``dpmesh simulate supply_chain``. They talk to
the context only over HTTP, as an outside system and a user would.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

import httpx
from fastapi import FastAPI
from rich.console import Console

from contexts.supply_chain.demo.simulator import Summary, simulate

__all__ = ["API_KEY_VARIABLE", "carrier_app", "simulator_lane"]

#: The fake carrier requires this key in ``X-Api-Key`` when the variable is set.
API_KEY_VARIABLE = "DPMESH_FAKE_CARRIER_API_KEY"


def carrier_app() -> FastAPI:
    """The fake carrier tracking API (in memory)."""
    from contexts.supply_chain.demo.fake_carrier import create_app

    return create_app(api_key=os.environ.get(API_KEY_VARIABLE) or None)


async def simulator_lane(
    api_url: str,
    *,
    fakes: Mapping[str, str],
    seed: int,
    rate: float,
    duration: float | None,
    quiet: bool,
    stop: asyncio.Event,
    console: Console,
    auth: httpx.Auth | None = None,
) -> Summary:
    """A day in Kestrel Devices' supply chain, driven through the operational API; the
    carrier, if the demo runs it, is scripted to move the shipments."""
    return await simulate(
        api_url,
        carrier_url=fakes.get("carrier"),
        carrier_api_key=os.environ.get(API_KEY_VARIABLE) or None,
        seed=seed,
        rate=rate,
        duration=duration,
        quiet=quiet,
        stop=stop,
        console=console,
        auth=auth,
    )
