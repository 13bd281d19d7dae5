"""``dpmesh``: the self-serve platform's command line.

Each command lives in ``dpmesh.commands.<name>``; this module only registers them, so
``dpmesh --help`` stays fast and one command's imports never slow another down.
"""

from __future__ import annotations

import typer

from dpmesh.commands.auth_key import auth_key
from dpmesh.commands.broker import broker
from dpmesh.commands.catalog import catalog
from dpmesh.commands.contracts import app as contracts_app
from dpmesh.commands.demo import demo
from dpmesh.commands.fake import fake
from dpmesh.commands.new_context import new_context
from dpmesh.commands.run import migrate, replay, run, snapshot
from dpmesh.commands.simulate import simulate
from dpmesh.commands.sql import sql
from dpmesh.commands.status import status

app = typer.Typer(
    name="dpmesh",
    help="Data as a product, for real: run bounded contexts, their data products and the mesh.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main() -> None:
    """Data as a product, for real: run bounded contexts, their data products and the mesh."""


app.command(
    "broker",
    epilog="Examples:\n\n  dpmesh broker\n\n  dpmesh broker --port 19092",
)(broker)

app.command("run")(run)
app.command("demo")(demo)
app.command("simulate")(simulate)
app.command("fake")(fake)
app.command("snapshot")(snapshot)
app.command("sql")(sql)
app.command("status")(status)
app.command(
    "catalog",
    epilog="Examples:\n\n  dpmesh catalog\n\n  dpmesh catalog --port 9100",
)(catalog)
app.command("migrate")(migrate)
app.command("replay")(replay)
app.command("new-context")(new_context)
app.command("auth-key")(auth_key)
app.add_typer(contracts_app, name="contracts")


if __name__ == "__main__":  # pragma: no cover
    app()
