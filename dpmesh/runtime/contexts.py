"""The bounded contexts the platform can run, found by their manifests.

The platform composes contexts; it never reaches inside them and never names one. A
context registers its manifest (``shared_kernel.interfaces.manifest.ContextManifest``):

- as a ``dpmesh.contexts`` entry point of an installed distribution, and/or
- in the ``pyproject.toml`` of the project in the working directory::

      [tool.dpmesh.contexts]
      supply_chain = "contexts.supply_chain.manifest:MANIFEST"

The project file wins for a name in both, so a context added to a checkout (``dpmesh
new-context``) is found before the package is installed again.
"""

from __future__ import annotations

import functools
import os
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from shared_kernel.interfaces.manifest import ContextManifest, load_reference

__all__ = [
    "ENTRY_POINT_GROUP",
    "ROLES",
    "ContextEntry",
    "UnknownContext",
    "context",
    "context_names",
    "manifests",
    "registered",
]

ENTRY_POINT_GROUP = "dpmesh.contexts"
ROLES = ("api", "worker", "relay")


class UnknownContext(LookupError):
    def __init__(self, name: str) -> None:
        known = ", ".join(sorted(registered())) or "none registered"
        super().__init__(f"unknown context {name!r}; known contexts: {known}")


def registered(project: Path | None = None) -> dict[str, str]:
    """``{name: "module:attribute"}`` of every registered manifest."""
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    pyproject = (project or _project_dir()) / "pyproject.toml"
    if pyproject.is_file():
        with pyproject.open("rb") as file:
            table = tomllib.load(file).get("tool", {}).get("dpmesh", {}).get("contexts", {})
        found.update({str(name): str(reference) for name, reference in table.items()})
    return dict(sorted(found.items()))


def context_names() -> list[str]:
    return list(registered())


@functools.cache
def _manifest(reference: str) -> ContextManifest:
    manifest = load_reference(reference)
    if not isinstance(manifest, ContextManifest):
        raise TypeError(f"{reference} is a {type(manifest).__name__}, not a ContextManifest")
    return manifest


def manifests() -> list[ContextManifest]:
    """Every registered context's manifest, by name."""
    return [_manifest(reference) for reference in registered().values()]


class ContextEntry:
    """One context as the CLI uses it: its manifest and its composition root."""

    def __init__(self, manifest: ContextManifest) -> None:
        self.manifest = manifest
        self.name = manifest.name

    def load(self) -> ModuleType:
        return self.manifest.composition()

    @property
    def app_factory(self) -> str:
        return self.manifest.api_factory


def context(name: str) -> ContextEntry:
    reference = registered().get(name)
    if reference is None:
        raise UnknownContext(name)
    manifest = _manifest(reference)
    if manifest.name != name:
        raise TypeError(f"{reference} is registered as {name!r} but names itself {manifest.name!r}")
    return ContextEntry(manifest)


def _project_dir() -> Path:
    return Path(os.environ.get("DPMESH_PROJECT_DIR") or Path.cwd())
