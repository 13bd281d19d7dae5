"""``dpmesh auth-key``: the issuer's key, made once, private, and read back through
``DPMESH_AUTH_SIGNING_KEY_FILE``."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dpmesh.cli import app
from shared_kernel.interfaces.auth import AuthSettings
from shared_kernel.interfaces.keys import SigningKey


def test_the_key_is_written_once_private_and_kept_on_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "issuer.pem"
    first = CliRunner().invoke(app, ["auth-key", str(path)])
    assert first.exit_code == 0, first.output
    written = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kid = SigningKey.from_pem(written).kid

    again = CliRunner().invoke(app, ["auth-key", str(path)])
    assert again.exit_code == 0, again.output
    assert path.read_text() == written
    assert "Keeping" in again.output

    settings = AuthSettings(environment="ci", signing_key_file=path)
    assert settings.signing_key is not None
    assert SigningKey.from_pem(settings.signing_key.get_secret_value()).kid == kid
    assert settings.asymmetric


def test_a_broken_or_missing_key_file_is_refused_at_start_up(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("not a key")
    result = CliRunner().invoke(app, ["auth-key", str(broken)])
    assert result.exit_code != 0
    with pytest.raises(ValueError, match="cannot be read"):
        AuthSettings(environment="ci", signing_key_file=tmp_path / "missing.pem")
    with pytest.raises(ValueError):
        AuthSettings(environment="ci", signing_key_file=broken)
