"""Reading Bitol descriptors (ODPS product files, ODCS contracts): one reader for all.

The catalog registration, the platform's descriptor checks and its token clients all
read the same YAML files; they read them through these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ODPS_PATTERN", "DescriptorError", "access_scopes", "custom_property", "read_documents"]

ODPS_PATTERN = "*.odps.yaml"


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
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
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
