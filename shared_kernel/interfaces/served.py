"""What a context's code serves, described for the platform's descriptor checks.

A context's composition root returns a :class:`ServedCode` (named in its manifest as
``served_ports``); the platform checks the context's ODPS/ODCS files against it
(``dpmesh contracts products check``) without importing the context by name.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import APIRouter
from pydantic import BaseModel

__all__ = ["ServedCode", "StreamPayload", "acl_modules", "agent_sources"]


@dataclass(frozen=True, slots=True)
class StreamPayload:
    """The data of the events a product publishes on one output topic.

    ``fields`` are the keys the producer writes, in its order; each is a field of
    ``model``, which gives its type and description.
    """

    product: str
    model: type[BaseModel]
    fields: tuple[str, ...]
    event_types: tuple[str, ...]
    key: str


@dataclass(frozen=True, slots=True)
class ServedCode:
    """One context's served ports, as its code defines them.

    - ``router``: the products' REST router (GET routes under ``/api/v1/products/``);
    - ``snapshots``: the pyarrow schema of each product's Parquet snapshot, and
      ``snapshot_path(root, product, day)``, the file a snapshot is written to;
    - ``output_topics``: the topics the stream worker writes and does not read, each
      described by a :class:`StreamPayload` in ``payloads``;
    - ``input_topics``: the topics the worker reads; ``acls``: the modules of the
      context's anti-corruption layers.
    """

    context: str
    router: APIRouter
    snapshots: Mapping[str, pa.Schema]
    snapshot_path: Callable[[Path, str, date], Path]
    output_topics: tuple[str, ...]
    payloads: Mapping[str, StreamPayload]
    input_topics: frozenset[str]
    acls: frozenset[str] = frozenset()


def agent_sources(app: Any) -> frozenset[str]:
    """The topics a faust app's agents read, less its internal ones (``<app id>-...``)."""
    internal = f"{app.conf.id}-"
    return frozenset(
        topic
        for agent in app.agents.values()
        for topic in agent.channel.topics
        if not topic.startswith(internal)
    )


def acl_modules(package: str) -> frozenset[str]:
    """The modules of a context's ``acl`` package: one anti-corruption layer each."""
    found = importlib.import_module(package)
    return frozenset(
        f"{package}.{module.name}"
        for module in pkgutil.iter_modules(found.__path__)
        if not module.name.startswith("_")
    )
