"""Schemathesis against every API as it really runs: each registered context's API and
the catalog, each a ``dpmesh`` server process, with access control off and on.

All checks, the stateful phase, a fixed seed and bounded examples
(``tests/fuzz/schemathesis.toml``): no server error, no response that differs from
the OpenAPI document, no schema-violating request accepted, no protected route
served without a token. Schemathesis runs from its own tool environment
(``.tools/fuzz``, made by ``make test``), so its pins never reach the app's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from dpmesh.auth.tokens import issue_token
from dpmesh.runtime.contexts import manifests
from shared_kernel.infrastructure import bitol
from shared_kernel.interfaces.auth import AuthSettings
from shared_kernel.interfaces.keys import SigningKey
from tests.platform.test_demo import free_ports

pytestmark = [pytest.mark.slow, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
SCHEMATHESIS = REPO / ".tools" / "fuzz" / "bin" / "st"
CONFIG = Path(__file__).with_name("schemathesis.toml")
STARTUP_S = 60.0
RUN_TIMEOUT_S = 600

TARGETS = [*(manifest.name for manifest in manifests()), "catalog"]


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str], ready: str, log: Path) -> Iterator[None]:
    """``dpmesh COMMAND`` until the block ends; up once ``ready`` answers 200."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "dpmesh", *command],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            assert process.poll() is None, f"{command} exited:\n{log.read_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(ready, timeout=2.0).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"{command} not ready:\n{log.read_text()[-3000:]}"
            time.sleep(0.3)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def every_scope() -> list[str]:
    """A token for the fuzzer: every scope any route of any API may ask for."""
    scopes: set[str] = set()
    for manifest in manifests():
        names = [path.name.split(".")[0] for path in manifest.dataproduct_dir.glob("*.odps.yaml")]
        descriptors = bitol.load_product_descriptors(manifest.dataproduct_dir, manifest.name, names)
        scopes |= {*manifest.operations_scopes, f"{manifest.name}:products:read"}
        scopes |= set(bitol.product_scopes(descriptors).values())
        scopes.add(f"catalog:{manifest.name}:write")
    return sorted(scopes)


@pytest.mark.parametrize("access", ["off", "on"])
@pytest.mark.parametrize("target", TARGETS)
def test_schemathesis_finds_nothing(
    target: str, access: str, signing_key: SigningKey, tmp_path: Path
) -> None:
    if not SCHEMATHESIS.exists():
        pytest.fail(f"schemathesis is missing: run 'make test' (it creates {SCHEMATHESIS.parent})")
    catalog_port, api_port = free_ports(2)
    catalog_url = f"http://127.0.0.1:{catalog_port}"
    key_pem = signing_key.private_pem()
    off = {"DPMESH_ENVIRONMENT": "local"}
    issuer = {"DPMESH_ENVIRONMENT": "ci", "DPMESH_AUTH_SIGNING_KEY": key_pem}
    verifier = {
        "DPMESH_ENVIRONMENT": "ci",
        "DPMESH_AUTH_JWKS_URL": f"{catalog_url}/.well-known/jwks.json",
    }
    catalog = server(
        [
            "catalog",
            "--port",
            str(catalog_port),
            "--database-url",
            f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}",
        ],
        off if access == "off" else issuer,
        f"{catalog_url}/healthz",
        tmp_path / "catalog.log",
    )
    headers: list[str] = []
    if access == "on":
        token = issue_token(
            AuthSettings(environment="ci", signing_key=key_pem),
            "fuzzer",
            every_scope(),
            now=datetime.now(UTC),
            ttl_s=3600,
        )
        headers = ["--header", f"Authorization: Bearer {token}"]
    with contextlib.ExitStack() as stack:
        stack.enter_context(catalog)
        base_url = catalog_url
        if target != "catalog":
            manifest = next(m for m in manifests() if m.name == target)
            env = {
                manifest.setting("database_url"): f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}",
                manifest.setting(
                    "analytics_database_url"
                ): f"sqlite+aiosqlite:///{tmp_path / 'products.db'}",
                manifest.setting("log_json"): "false",
                **(off if access == "off" else verifier),
            }
            base_url = f"http://127.0.0.1:{api_port}"
            stack.enter_context(
                server(
                    ["run", target, "api", "--port", str(api_port)],
                    env,
                    f"{base_url}/readyz",
                    tmp_path / "api.log",
                )
            )
        result = subprocess.run(
            [
                str(SCHEMATHESIS),
                "--config-file",
                str(CONFIG),
                "--no-color",
                "run",
                f"{base_url}/openapi.json",
                "--checks",
                "all",
                *headers,
            ],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
    report = result.stdout + result.stderr
    summary = report[report.rfind("SUMMARY") :]
    assert result.returncode == 0, report[-6000:]
    assert "passed" in summary
    assert "failure" not in summary, summary
