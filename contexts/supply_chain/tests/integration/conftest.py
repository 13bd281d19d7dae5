"""The context's mapping is on while these tests run, and undone after them, so the
use-case tests elsewhere keep working with plain domain classes."""

from collections.abc import Iterator

import pytest

from contexts.supply_chain.infrastructure.persistence.orm import clear_mappers, start_mappers


@pytest.fixture(scope="package", autouse=True)
def mapped_domain() -> Iterator[None]:
    start_mappers()
    yield
    clear_mappers()
