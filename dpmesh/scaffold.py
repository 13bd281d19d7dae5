"""``dpmesh new-context NAME``: a new bounded context from the template, ready to copy.

The template (``dpmesh/templates/context``, rendered with Jinja2) is the smallest
context that has every part the platform runs: an aggregate with an invariant and two
commands, its events through the outbox, one stream-processed data product with its
REST and snapshot ports, ODPS/ODCS files and SLOs, its manifest, and unit, API and
end-to-end tests. Generating it:

1. checks the name and the project (nothing is written when a check fails);
2. renders every file into a temporary folder, then moves it to ``contexts/NAME``;
3. registers the manifest in ``pyproject.toml`` (``[tool.dpmesh.contexts]``, the
   ``dpmesh.contexts`` entry points) and adds the context to the layered import-linter
   contract;
4. generates the published events' JSON Schemas and the contracts' schema sections from
   the new code, in a fresh interpreter that imports the project as it now is.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import jinja2

from dpmesh.runtime.contexts import registered
from shared_kernel.interfaces.manifest import ContextManifest, load_reference

__all__ = ["NewContextError", "Plan", "generate", "plan"]

TEMPLATE_DIR = Path(__file__).parent / "templates" / "context"
SUFFIX = ".jinja"
NAME = re.compile(r"[a-z][a-z0-9_]{1,39}")
#: Names the project already uses at the top of ``sys.path`` or inside ``contexts``.
RESERVED = frozenset({"contexts", "shared_kernel", "dpmesh", "tests", "bench", "deploy", "docs"})
FIRST_DEMO_PORT = 8101


class NewContextError(Exception):
    """The context cannot be generated; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What :func:`generate` will write."""

    root: Path
    name: str
    class_name: str
    prefix: str
    demo_api_port: int

    @property
    def target(self) -> Path:
        return self.root / "contexts" / self.name

    def variables(self) -> dict[str, object]:
        return {
            "name": self.name,
            "Name": self.class_name,
            "PREFIX": self.prefix,
            "title": self.name.replace("_", " "),
            "slug": self.name.replace("_", "-"),
            "port": self.demo_api_port,
        }


def plan(name: str, root: Path, *, allow_dirty: bool = False) -> Plan:
    """Check ``name`` and the project at ``root``; raise :class:`NewContextError` with
    the reason when the context cannot be generated."""
    if not NAME.fullmatch(name) or keyword.iskeyword(name):
        raise NewContextError(
            f"{name!r} is not a context name: use 2 to 40 lower-case letters, digits and "
            "underscores, starting with a letter (a Python identifier, e.g. warranty)"
        )
    if name in RESERVED or name in sys.stdlib_module_names or _importable(name):
        raise NewContextError(
            f"{name!r} clashes with a module of that name (the standard library, an "
            "installed package or the project itself): choose another name"
        )
    pyproject = root / "pyproject.toml"
    if not (root / "contexts").is_dir() or not pyproject.is_file():
        raise NewContextError(f"{root} is not a dpmesh project (no contexts/ or pyproject.toml)")
    if name in registered(root) or (root / "contexts" / name).exists():
        raise NewContextError(f"context {name!r} already exists in {root}")
    dirty = _dirty(root)
    if dirty and not allow_dirty:
        raise NewContextError(
            "the project has uncommitted changes ("
            + ", ".join(dirty[:5])
            + (", ..." if len(dirty) > 5 else "")
            + "): commit or stash them first, so the generated context is one reviewable "
            "change (or pass --allow-dirty)"
        )
    ports = [
        manifest.demo_api_port
        for manifest in map(load_reference, registered(root).values())
        if isinstance(manifest, ContextManifest)
    ]
    return Plan(
        root=root,
        name=name,
        class_name="".join(part.capitalize() for part in name.split("_")),
        prefix=f"{name.upper()}_",
        demo_api_port=max([FIRST_DEMO_PORT - 1, *ports]) + 1,
    )


def generate(chosen: Plan, progress: Callable[[str], None] = lambda step: None) -> list[Path]:
    """Write the context of ``chosen``; the files written, relative to the project."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix=f"dpmesh-{chosen.name}-") as scratch:
        staging = Path(scratch) / chosen.name
        for source in sorted(TEMPLATE_DIR.rglob("*")):
            if source.is_dir() or "__pycache__" in source.parts:
                continue
            relative = source.relative_to(TEMPLATE_DIR)
            destination = staging / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            if source.suffix == SUFFIX:
                destination = destination.with_suffix("")
                template = environment.get_template(relative.as_posix())
                destination.write_text(template.render(chosen.variables()), encoding="utf-8")
            else:
                shutil.copyfile(source, destination)
            written.append(Path("contexts") / chosen.name / destination.relative_to(staging))
        progress(f"rendered {len(written)} files")
        updated = _registered_in(chosen, (chosen.root / "pyproject.toml").read_text("utf-8"))
        shutil.move(staging, chosen.target)
    (chosen.root / "pyproject.toml").write_text(updated, encoding="utf-8")
    progress("registered the manifest and the import contracts in pyproject.toml")
    for step, command in (
        ("generated the events' JSON Schemas", ["contracts", "generate"]),
        ("generated the contracts' schema sections", ["contracts", "products", "generate"]),
    ):
        _dpmesh(chosen.root, *command)
        progress(step)
    schemas = chosen.target / "interfaces" / "events" / "schemas"
    written += [path.relative_to(chosen.root) for path in sorted(schemas.glob("*.json"))]
    return written


def _registered_in(chosen: Plan, text: str) -> str:
    """``pyproject.toml`` with the context registered; checked by parsing it again."""
    reference = f'{chosen.name} = "contexts.{chosen.name}.manifest:MANIFEST"'
    for table in ('[project.entry-points."dpmesh.contexts"]', "[tool.dpmesh.contexts]"):
        text = _append_to_table(text, table, reference)
    containers = re.compile(
        r'(\nid = "context-layers"\n(?:[^\[\n][^\n]*\n)*?containers = \[)([^\]]*)\]'
    )
    found = containers.search(text)
    if found is None:
        raise NewContextError("pyproject.toml has no context-layers import contract to extend")
    listed = [item.strip() for item in found.group(2).split(",") if item.strip()]
    listed.append(f'"contexts.{chosen.name}"')
    text = text[: found.start(2)] + ", ".join(listed) + text[found.end(2) :]
    parsed = tomllib.loads(text)
    if parsed["tool"]["dpmesh"]["contexts"].get(chosen.name) is None:
        raise NewContextError("registering the context in pyproject.toml failed")
    return text


def _append_to_table(text: str, header: str, line: str) -> str:
    """Add ``line`` as the last entry of the TOML table ``header``."""
    start = text.find(f"\n{header}\n")
    if start < 0:
        return text.rstrip("\n") + f"\n\n{header}\n{line}\n"
    body = start + len(header) + 2
    following = re.search(r"\n\s*\n|\n\[", text[body:])
    end = body + (following.start() + 1 if following else len(text) - body)
    return text[:end] + line + "\n" + text[end:]


def _dpmesh(root: Path, *arguments: str) -> None:
    """Run ``python -m dpmesh ARGUMENTS`` on the project at ``root``, in a new process
    so that it imports the new context from there."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    env["DPMESH_PROJECT_DIR"] = str(root)
    result = subprocess.run(
        [sys.executable, "-m", "dpmesh", *arguments],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise NewContextError(
            f"'dpmesh {' '.join(arguments)}' failed on the generated context:\n"
            + (result.stdout + result.stderr)[-3000:]
        )


def _importable(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _dirty(root: Path) -> list[str]:
    """Paths git reports as changed or untracked under ``root`` (none outside git)."""
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--", "."],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return []
    if result.returncode != 0:
        return []
    return [line[3:] for line in result.stdout.splitlines() if line.strip()]
