"""Lint every data product descriptor with the standards' own tools.

``datacontract lint`` (datacontract-cli) validates each ODCS contract against the ODCS
JSON Schema of its ``apiVersion``; ``dataproduct lint`` (dataproduct-cli) validates each
ODPS product against the ODPS JSON Schema and resolves the contracts its ports name
among the ``*.odcs.yaml`` files of its folder. Both tools pin older pydantic and typer
than the app, so they live in their own virtual environment (``.tools/venv``, made by
``make lint-descriptors``) and run here as subprocesses.

Anything but a pass fails the lint, warnings included: an unresolved contract is a
warning for the tool but a broken link for us.

Usage::

    python -m dpmesh.governance.lint_descriptors [--tools .tools/venv/bin] [FILE ...]

Without files, every descriptor under ``contexts/*/dataproduct/`` is linted. Exit
status: 0 when all pass, 1 when one fails, 2 when a tool is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = ["LintResult", "ToolMissing", "descriptor_files", "lint", "main"]

DEFAULT_TOOLS: Final = Path(".tools") / "venv" / "bin"
TIMEOUT_S: Final = 180
#: dataproduct-cli's notice that it did not lint the linked contracts itself (see _lint_one).
NESTED_LINT_CHECK: Final = "datacontract-cli is runnable"
INSTALL_HINT: Final = (
    "python3 -m venv .tools/venv && .tools/venv/bin/pip install "
    "'datacontract-cli>=1.2.8,<1.3' 'dataproduct-cli>=0.3.2,<0.4'  (or: make lint-descriptors)"
)


class ToolMissing(Exception):
    """A linter is not installed where it is looked for."""


@dataclass(frozen=True, slots=True)
class LintResult:
    """One descriptor's lint: passed, or the reasons it did not."""

    path: Path
    tool: str
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def descriptor_files(root: Path) -> list[Path]:
    """Every ODPS and ODCS file under ``root/contexts/*/dataproduct/``."""
    folders = sorted((root / "contexts").glob("*/dataproduct"))
    return [
        path
        for folder in folders
        for pattern in ("*.odps.yaml", "*.odcs.yaml")
        for path in sorted(folder.glob(pattern))
    ]


def lint(paths: Sequence[Path], tools: Path, *, workers: int = 2) -> list[LintResult]:
    """Lint each file with the tool for its kind; :class:`ToolMissing` before running any."""
    tools = tools.resolve()
    for name in ("datacontract", "dataproduct"):
        if not (tools / name).is_file():
            raise ToolMissing(f"{tools / name} not found; install the linters: {INSTALL_HINT}")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda path: _lint_one(path, tools), paths))


def _lint_one(path: Path, tools: Path) -> LintResult:
    path = path.resolve()
    if path.name.endswith(".odps.yaml"):
        tool = "dataproduct"
        # The contracts a product names are resolved among the files of its folder. The
        # tool would also lint each with a datacontract found on the PATH; they are
        # linted on their own here, so the tool environment stays off its PATH.
        arguments = ["--all-errors", "--local-references"]
    elif path.name.endswith(".odcs.yaml"):
        tool = "datacontract"
        arguments = ["--all-errors", "--no-inline-references"]
    else:
        return LintResult(path, "-", (f"{path.name} is neither *.odps.yaml nor *.odcs.yaml",))
    with tempfile.TemporaryDirectory(prefix="dpmesh-lint-") as scratch:
        report = Path(scratch) / "report.json"
        command = [
            str(tools / tool),
            "lint",
            *arguments,
            "--output-format",
            "json",
            "--output",
            str(report),
            path.name,
        ]
        search_path = [
            entry
            for entry in os.environ.get("PATH", "").split(os.pathsep)
            if entry and Path(entry).resolve() != tools
        ]
        environment = {**os.environ, "PATH": os.pathsep.join(search_path), "NO_COLOR": "1"}
        try:
            completed = subprocess.run(
                command,
                cwd=path.parent,
                env=environment,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return LintResult(path, tool, (f"{tool} lint did not finish in {TIMEOUT_S} s",))
        failures = _failures(report, completed)
    return LintResult(path, tool, failures)


def _failures(report: Path, completed: subprocess.CompletedProcess[str]) -> tuple[str, ...]:
    try:
        run: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        output = (completed.stdout + completed.stderr).strip() or "(no output)"
        return (f"exit status {completed.returncode}, no report: {output[-1500:]}",)
    failures = tuple(
        _describe(check)
        for check in run.get("checks", [])
        if check.get("result") != "passed" and check.get("name") != NESTED_LINT_CHECK
    )
    if not failures and completed.returncode != 0:
        return (f"result {run.get('result')!r}, exit status {completed.returncode}",)
    return failures


def _describe(check: dict[str, Any]) -> str:
    where = f" [{check['field']}]" if check.get("field") else ""
    reason = " ".join(str(check.get("reason") or "").split())
    return f"{check.get('result')}: {check.get('name')}{where}" + (f": {reason}" if reason else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dpmesh.governance.lint_descriptors",
        description="Lint data product descriptors (ODPS, ODCS) with dataproduct-cli and "
        "datacontract-cli.",
    )
    parser.add_argument(
        "--tools",
        type=Path,
        default=DEFAULT_TOOLS,
        help="Directory holding the datacontract and dataproduct executables "
        f"(default: {DEFAULT_TOOLS}).",
    )
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="Project root holding contexts/."
    )
    parser.add_argument("files", nargs="*", type=Path, help="Descriptors (default: all).")
    options = parser.parse_args(argv)
    paths = options.files or descriptor_files(options.root)
    if not paths:
        print(f"No descriptors under {options.root / 'contexts'}/*/dataproduct/.")
        return 1
    try:
        results = lint(paths, options.tools)
    except ToolMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    root = options.root.resolve()
    for result in results:
        shown = result.path.relative_to(root) if result.path.is_relative_to(root) else result.path
        print(f"{'ok  ' if result.passed else 'FAIL'} {shown} ({result.tool} lint)")
        for failure in result.failures:
            print(f"       {failure}")
    failed = sum(not result.passed for result in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
