"""Reading Bitol descriptors (ODPS product files, ODCS contracts): one reader for all.

The catalog registration, a context's API (scopes, objectives), the platform's
descriptor checks and its token clients all read the same YAML files; they read them
through these functions, and what a product's descriptor says about access and service
levels is one typed :class:`ProductDescriptor`.

A product without a descriptor file (a new product before its team writes one) gets no
scope of its own and the :data:`DEFAULT_OBJECTIVES`: the objectives every real-time
product of the platform starts with: new facts visible within 5 s, at most 1 event in
1000 lost, at most 1 read in 1000 failing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from shared_kernel.infrastructure.slo import Comparison, Objective, objectives_from_odps

__all__ = [
    "DEFAULT_OBJECTIVES",
    "ODPS_PATTERN",
    "DescriptorError",
    "ProductDescriptor",
    "access_scopes",
    "custom_property",
    "load_product_descriptors",
    "product_objectives",
    "product_scopes",
    "read_documents",
    "scope_descriptions",
]

logger = logging.getLogger(__name__)

ODPS_PATTERN = "*.odps.yaml"
#: libyaml's loader when PyYAML was built with it: ten times faster on these files.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEFAULT_OBJECTIVES: Final = (
    Objective(
        "freshness_ms",
        Comparison.AT_MOST,
        5000,
        "Lag from a fact's event time to its row in the read store (p99 over the window).",
    ),
    Objective(
        "completeness",
        Comparison.AT_LEAST,
        0.999,
        "Share of the source events applied rather than lost or dead-lettered.",
    ),
    Objective(
        "error_rate",
        Comparison.AT_MOST,
        0.001,
        "Share of reads of the REST port answered with a server error.",
    ),
)

Source = Literal["descriptor", "default"]


@dataclass(frozen=True, slots=True)
class ProductDescriptor:
    """What a product's descriptor says about access and service levels."""

    product: str
    urn: str
    read_scope: str | None
    scope_description: str | None
    objectives: tuple[Objective, ...]
    objectives_source: Source


class DescriptorError(ValueError):
    """A descriptor file cannot be read, or is not the kind of document expected."""


def read_documents(directory: Path, pattern: str, kind: str) -> list[dict[str, Any]]:
    """Every ``pattern`` file of ``directory``, parsed, in name order; each must be a
    mapping whose ``kind`` is ``kind`` (``DataProduct``, ``DataContract``)."""
    if not directory.is_dir():
        raise DescriptorError(f"{directory} is not a directory")
    documents = []
    for path in sorted(directory.glob(pattern)):
        try:
            loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, yaml.YAMLError) as exc:
            raise DescriptorError(f"{path.name}: {exc}") from exc
        if not isinstance(loaded, dict) or loaded.get("kind") != kind:
            raise DescriptorError(f"{path.name} is not a {kind} document")
        documents.append(loaded)
    return documents


def custom_property(element: Mapping[str, Any], name: str) -> Any:
    """The value of the custom property ``name`` of a descriptor element, or None."""
    for item in element.get("customProperties") or []:
        if isinstance(item, dict) and item.get("property") == name:
            return item.get("value")
    return None


def access_scopes(products: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ``accessScope`` of every output port of the ODPS ``products``, sorted."""
    scopes = {
        str(scope)
        for product in products
        for port in product.get("outputPorts") or []
        if (scope := custom_property(port, "accessScope"))
    }
    return sorted(scopes)


def load_product_descriptors(
    directory: Path, context: str, products: Iterable[str]
) -> dict[str, ProductDescriptor]:
    """Each product's scope and objectives from ``directory`` (defaults where missing).

    An unreadable file is logged and treated as missing: the API still starts, its
    product asks for the fallback scope, and the descriptor check in CI names the file.
    """
    contracts = _contracts(directory)
    found = {}
    for product in products:
        document = _load(directory / f"{product}.odps.yaml")
        scope = _read_scope(document) if document is not None else None
        objectives = tuple(objectives_from_odps(document)) if document is not None else ()
        found[product] = ProductDescriptor(
            product=product,
            urn=f"urn:dpmesh:{context}:{product}",
            read_scope=scope,
            scope_description=_scope_description(scope, contracts),
            objectives=objectives or DEFAULT_OBJECTIVES,
            objectives_source="descriptor" if objectives else "default",
        )
    return found


def product_scopes(descriptors: Mapping[str, ProductDescriptor]) -> dict[str, str]:
    """``{product: read scope}`` for the products whose descriptor names one."""
    return {
        product: descriptor.read_scope
        for product, descriptor in descriptors.items()
        if descriptor.read_scope is not None
    }


def product_objectives(
    descriptors: Mapping[str, ProductDescriptor],
) -> dict[str, tuple[Objective, ...]]:
    return {product: descriptor.objectives for product, descriptor in descriptors.items()}


def scope_descriptions(descriptors: Mapping[str, ProductDescriptor]) -> dict[str, str]:
    """``{scope: description}`` for the OpenAPI document."""
    return {
        descriptor.read_scope: descriptor.scope_description
        or f"Read the {descriptor.product} data product."
        for descriptor in descriptors.values()
        if descriptor.read_scope is not None
    }


def _load(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError):
        logger.exception("cannot read %s; using the defaults for its product", path)
        return None
    if not isinstance(loaded, dict):
        logger.error("%s is not a YAML mapping; using the defaults for its product", path)
        return None
    return loaded


def _contracts(directory: Path) -> list[dict[str, Any]]:
    if not directory.is_dir():
        return []
    return [
        document
        for path in sorted(directory.glob("*.odcs.yaml"))
        if (document := _load(path)) is not None
    ]


def _read_scope(document: Mapping[str, Any]) -> str | None:
    """The ``accessScope`` of the REST output port, else of the first port naming one."""
    ports = [port for port in document.get("outputPorts") or [] if isinstance(port, dict)]
    for port in sorted(ports, key=lambda port: port.get("type") != "rest"):
        value = custom_property(port, "accessScope")
        if isinstance(value, str) and value:
            return value
    return None


def _scope_description(scope: str | None, contracts: Iterable[Mapping[str, Any]]) -> str | None:
    if scope is None:
        return None
    for contract in contracts:
        for role in contract.get("roles") or []:
            if isinstance(role, dict) and role.get("role") == scope and role.get("description"):
                return str(role["description"])
    return None
