"""The import-linter contracts really hold the architecture.

A contract that never fails is decoration. These tests copy the source tree, plant one
deliberate violation per contract, and check that lint-imports reports exactly that
contract as broken by exactly that import. They also check that no context escapes
the layering contract by not being listed in it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {contract["id"]: contract for contract in CONFIG["contracts"]}

# contract id -> (file to plant, its content, the module that must be reported)
VIOLATIONS: dict[str, tuple[str, str, str]] = {
    "context-layers": (
        "contexts/supply_chain/domain/_planted_upward.py",
        "import contexts.supply_chain.application\n",
        "contexts.supply_chain.domain._planted_upward",
    ),
    "contexts-independent": (
        "contexts/supply_chain/application/_planted_neighbour.py",
        "import contexts.planted_other\n",
        "contexts.supply_chain.application._planted_neighbour",
    ),
    "kernel-knows-no-context": (
        "shared_kernel/infrastructure/_planted_context.py",
        "import contexts.supply_chain.domain\n",
        "shared_kernel.infrastructure._planted_context",
    ),
    "contexts-without-platform": (
        "contexts/planted_other/_planted_platform.py",
        "import dpmesh\n",
        "contexts.planted_other._planted_platform",
    ),
    "platform-through-manifests": (
        "dpmesh/commands/_planted_context.py",
        "import contexts.supply_chain.bootstrap\n",
        "dpmesh.commands._planted_context",
    ),
    "framework-free-core": (
        "contexts/supply_chain/domain/_planted_framework.py",
        "import pydantic\n",
        "contexts.supply_chain.domain._planted_framework",
    ),
    "kernel-layers": (
        "shared_kernel/domain/_planted_upward.py",
        "import shared_kernel.application\n",
        "shared_kernel.domain._planted_upward",
    ),
}


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(executable), "--no-cache", str(cwd / "pyproject.toml")],
        cwd=cwd,
        # Wide, plain output so contract names are never wrapped across lines.
        env={**os.environ, "COLUMNS": "500", "NO_COLOR": "1", "TERM": "dumb"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _section(report: str, contract_name: str, all_names: list[str]) -> str:
    """The part of the 'Broken contracts' report that belongs to ``contract_name``."""
    broken = report[report.index("Broken contracts") :]
    start = broken.index(contract_name)
    ends = [broken.find(name, start + 1) for name in all_names if name != contract_name]
    end = min([e for e in ends if e > start], default=len(broken))
    return broken[start:end]


def test_every_contract_has_a_planted_violation() -> None:
    assert set(VIOLATIONS) == set(CONTRACTS)


@pytest.mark.slow
def test_each_contract_fails_on_its_deliberate_violation(tmp_path: Path) -> None:
    for package in ("shared_kernel", "contexts", "dpmesh"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    other = tmp_path / "contexts" / "planted_other"
    other.mkdir()
    (other / "__init__.py").write_text("")
    for path, content, _ in VIOLATIONS.values():
        (tmp_path / path).write_text(content)

    result = _lint_imports(tmp_path)
    report = result.stdout + result.stderr

    assert result.returncode != 0, report
    names = [contract["name"] for contract in CONTRACTS.values()]
    for contract_id, (_, _, module) in VIOLATIONS.items():
        name = CONTRACTS[contract_id]["name"]
        assert f"{name} BROKEN" in report, f"{contract_id} was not broken:\n{report}"
        assert module in _section(report, name, names), f"{contract_id}: {module} not reported"


def test_every_context_is_in_the_layers_contract() -> None:
    contexts = {
        f"contexts.{path.parent.name}" for path in (ROOT / "contexts").glob("*/__init__.py")
    }
    layered = set(CONTRACTS["context-layers"]["containers"])
    assert contexts == layered, "add each context to the context-layers contract"
