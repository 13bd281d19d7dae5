"""``dpmesh new-context`` as a user runs it, on a temporary copy of the project.

The copy holds the working tree's tracked files, committed in a fresh git repository
(a clean clone). ``dpmesh new-context warranty`` runs there; then, in that copy, the
generated context must pass what ``make test`` asks of every context: its own tests,
ruff, mypy strict, import-linter, the descriptor checks and linters, and it must show
up in ``dpmesh demo`` with its product registered, serving data and reporting an SLO
status. Bad input is refused with a clear message and nothing written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dpmesh.commands.status import slo_status
from tests.platform.test_demo import analyst, get_json, running_demo

pytestmark = [pytest.mark.slow, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOOLS = REPO / ".tools" / "venv" / "bin"
NAME = "warranty"
URN = f"urn:dpmesh:{NAME}:case-activity"


def run(project: Path, *command: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """``command`` in ``project``, importing the project's code (not the installed one)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(project),
        "DPMESH_PROJECT_DIR": str(project),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=timeout_s
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(map(str, result.args))} failed:\n{output[-4000:]}"
    return output


def git(project: Path, *arguments: str) -> str:
    return ok(run(project, "git", *arguments))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean copy of the project with the ``warranty`` context generated and committed."""
    copy = tmp_path_factory.mktemp("project")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (path.decode() for path in tracked)):
        source = REPO / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    git(copy, "init", "-q")
    git(copy, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(copy, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "copy")
    output = ok(run(copy, sys.executable, "-m", "dpmesh", "new-context", NAME))
    assert "Generated" in output
    git(copy, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(copy, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", NAME)
    return copy


def test_the_generated_context_is_small_enough_to_read_in_one_sitting(project: Path) -> None:
    code = [p for p in (project / "contexts" / NAME).rglob("*.py") if "tests" not in p.parts]
    lines = sum(len(p.read_text().splitlines()) for p in code)
    assert 300 <= lines <= 1200, lines
    assert (project / "contexts" / NAME / "interfaces/events/schemas/CaseClosed.v1.json").is_file()


def test_its_own_tests_pass(project: Path) -> None:
    output = ok(
        run(
            project,
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"contexts/{NAME}",
        )
    )
    assert " passed" in output
    assert "failed" not in output
    assert "skipped" not in output, output


def test_ruff_mypy_strict_and_import_linter_pass(project: Path) -> None:
    ok(run(project, str(BIN / "ruff"), "check", f"contexts/{NAME}"))
    ok(run(project, str(BIN / "ruff"), "format", "--check", f"contexts/{NAME}"))
    ok(run(project, sys.executable, "-m", "mypy", "--strict", f"contexts/{NAME}"))
    output = ok(run(project, str(BIN / "lint-imports"), "--no-cache"))
    assert "0 broken" in output
    assert f'"contexts.{NAME}"' in (project / "pyproject.toml").read_text()


def test_its_descriptors_hold_and_pass_the_standards_linters(project: Path) -> None:
    output = ok(run(project, sys.executable, "-m", "dpmesh", "contracts", "products", "check"))
    assert "in 2 context(s)" in output
    ok(run(project, sys.executable, "-m", "dpmesh", "contracts", "check"))
    if not (TOOLS / "datacontract").exists():
        pytest.fail(f"the descriptor linters are missing: run 'make lint-descriptors' ({TOOLS})")
    ok(
        run(
            project,
            sys.executable,
            "-m",
            "dpmesh.governance.lint_descriptors",
            "--root",
            str(project),
            "--tools",
            str(TOOLS),
        )
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (NAME, "already exists"),
        ("supply_chain", "already exists"),
        ("Warranty", "is not a context name"),
        ("9lives", "is not a context name"),
        ("class", "is not a context name"),
        ("json", "clashes with a module"),
        ("shared_kernel", "clashes with a module"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_written(
    project: Path, name: str, reason: str
) -> None:
    result = run(project, sys.executable, "-m", "dpmesh", "new-context", name)
    assert result.returncode == 2
    assert reason in result.stdout + result.stderr
    assert git(project, "status", "--porcelain") == ""


def test_a_dirty_project_is_refused_and_nothing_is_written(project: Path) -> None:
    scratch = project / "notes.txt"
    scratch.write_text("work in progress")
    try:
        result = run(project, sys.executable, "-m", "dpmesh", "new-context", "claims")
        assert result.returncode == 2
        assert "uncommitted changes (notes.txt)" in result.stdout + result.stderr
        assert git(project, "status", "--porcelain").strip() == "?? notes.txt"
        assert not (project / "contexts" / "claims").exists()
    finally:
        scratch.unlink()


def test_the_demo_shows_its_product_with_data_and_an_slo_status(
    project: Path, tmp_path: Path
) -> None:
    with running_demo(
        tmp_path, duration=40, project=project, env={"PYTHONPATH": str(project)}
    ) as demo:
        demo.wait_until_up()
        api_url = demo.api_url.rsplit(":", 1)[0] + f":{int(demo.api_url.rsplit(':', 1)[1]) + 1}"
        entry: dict[str, object] = {}
        rows = 0
        panel_rows = 0
        with httpx.Client(timeout=5.0) as http:
            analyst(http, demo.catalog_url)
            deadline = time.monotonic() + 38
            while time.monotonic() < deadline:
                assert demo.process.poll() is None, f"the demo stopped early:\n{demo.logs()}"
                catalog = get_json(http, f"{demo.catalog_url}/api/v1/products")
                entry = next((item for item in catalog["items"] if item["urn"] == URN), {})
                answer = http.get(f"{api_url}/api/v1/products/case-activity")
                rows = answer.json()["count"] if answer.status_code == 200 else 0
                panel = http.get(f"{demo.catalog_url}/dashboard/api/products/{URN}/data")
                panel_rows = panel.json()["data"]["count"] if panel.status_code == 200 else 0
                if entry and rows and panel_rows and slo_status(entry) != "unknown":
                    break
                time.sleep(1.0)
            page = http.get(f"{demo.catalog_url}/dashboard").text
        assert entry, f"{URN} is not in the catalog:\n{demo.logs()}"
        assert rows, f"case-activity served no rows:\n{demo.logs()}"
        assert slo_status(entry) in ("met", "breached"), (entry, demo.logs())
        assert panel_rows, "the dashboard did not serve the product's rows"
        assert f'data-urn="{URN}"' in page
        assert 'data-kind="table"' in page
