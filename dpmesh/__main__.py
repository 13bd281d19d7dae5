"""``python -m dpmesh``: the CLI, for environments where the script is not on PATH."""

from dpmesh.cli import app

app()
