from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog
from prometheus_client import Counter

from shared_kernel.infrastructure.database import is_sqlite
from shared_kernel.infrastructure.logging import (
    bind_correlation_id,
    configure_logging,
    current_correlation_id,
)
from shared_kernel.infrastructure.metrics import new_registry, render


def test_is_sqlite_reads_the_backend() -> None:
    assert is_sqlite("sqlite+aiosqlite:///var/x.db")
    assert is_sqlite("sqlite+aiosqlite:///:memory:")
    assert not is_sqlite("postgresql+asyncpg://u@h/db")


class TestCorrelationId:
    def test_binding_sets_the_current_id(self) -> None:
        def run() -> tuple[str | None, str, str | None]:
            before = current_correlation_id()
            bound = bind_correlation_id("req-1")
            return before, bound, current_correlation_id()

        assert contextvars.Context().run(run) == (None, "req-1", "req-1")

    def test_a_fresh_id_is_generated_when_none_is_given(self) -> None:
        def run() -> tuple[str, str | None]:
            return bind_correlation_id(), current_correlation_id()

        bound, current = contextvars.Context().run(run)
        assert re.fullmatch(r"[0-9a-f]{32}", bound)
        assert current == bound
        assert contextvars.Context().run(lambda: bind_correlation_id()) != bound


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.mark.usefixtures("restore_logging")
def test_json_logs_carry_the_correlation_id(capsys: pytest.CaptureFixture[str]) -> None:
    def run() -> None:
        configure_logging("INFO", json=True)
        bind_correlation_id("req-77")
        logging.getLogger("dpmesh.test").info("stock %s", "received")
        logging.getLogger("dpmesh.test").debug("below the level")

    contextvars.Context().run(run)

    [line] = capsys.readouterr().err.strip().splitlines()
    entry = json.loads(line)
    assert entry["event"] == "stock received"
    assert entry["correlation_id"] == "req-77"
    assert entry["level"] == "info"
    assert entry["logger"] == "dpmesh.test"
    assert entry["timestamp"].endswith("Z")


def test_each_registry_renders_only_its_own_metrics() -> None:
    first, second = new_registry(), new_registry()
    Counter("dpmesh_test_orders", "Orders", registry=first).inc(2)
    Counter("dpmesh_test_orders", "Orders", registry=second)

    body, content_type = render(first)

    assert content_type.startswith("text/plain")
    assert b"dpmesh_test_orders_total 2.0" in body
    assert b"dpmesh_test_orders_total 0.0" in render(second)[0]
