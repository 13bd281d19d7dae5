"""``dpmesh auth-key PATH``: the token issuer's Ed25519 private key, made once.

For deployments that have no secret store at hand (the docker compose stack): a one-shot
service writes the key into a volume the catalog alone mounts, and the catalog reads it
with ``DPMESH_AUTH_SIGNING_KEY_FILE``. An existing key is kept, so restarts keep every
issued token valid; the APIs learn the public half from the catalog's JWKS.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["auth_key"]

_console = Console()


def auth_key(
    path: Annotated[Path, typer.Argument(help="Where to write the private key (PEM).")],
) -> None:
    """Write a new Ed25519 signing key to PATH (mode 0600), unless one is there.

    Example: dpmesh auth-key /var/lib/dpmesh/keys/issuer.pem
    """
    from shared_kernel.interfaces.keys import SigningKey

    if path.exists():
        kept = SigningKey.from_pem(path.read_text(encoding="utf-8"))  # a broken file fails
        _console.print(f"Keeping the signing key in {path} (kid {kept.kid}).")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SigningKey.generate()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(key.private_pem())
    _console.print(f"Wrote a new signing key to {path} (kid {key.kid}).")
