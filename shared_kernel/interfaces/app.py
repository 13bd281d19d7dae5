"""Assemble a context's FastAPI app the same way everywhere."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import CollectorRegistry

from shared_kernel.infrastructure.metrics import render
from shared_kernel.interfaces.health import ReadinessCheck, health_router
from shared_kernel.interfaces.middleware import (
    DEFAULT_MAX_BODY_BYTES,
    BodyLimitMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from shared_kernel.interfaces.problems import declare_problems, install_problem_handlers

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_api(
    *,
    title: str,
    description: str,
    version: str = "1.0.0",
    routers: Sequence[APIRouter] = (),
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    readiness_timeout_s: float = 2.0,
    metrics: CollectorRegistry | None = None,
    tags: Sequence[dict[str, Any]] = (),
    lifespan: Lifespan | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    security_headers: bool = False,
) -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        openapi_tags=[*tags, {"name": "health", "description": "Liveness and readiness probes"}],
        lifespan=lifespan,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
    )
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    if security_headers:
        app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health_router(readiness_checks or {}, timeout_s=readiness_timeout_s))
    for router in routers:
        app.include_router(router)
    declare_problems(app)
    if metrics is not None:
        registry = metrics

        @app.get("/metrics", include_in_schema=False)
        async def prometheus_metrics() -> Response:
            body, content_type = render(registry)
            return Response(body, media_type=content_type)

    return app
