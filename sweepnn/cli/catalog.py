"""Commands that describe what a recipe can say: schema, options."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sweepnn.cli.app import app, errors_to_exit, stdout_console
from sweepnn.errors import SweepnnError


@app.command()
@errors_to_exit
def schema() -> None:
    """Print the JSON Schema of a recipe (for editors: yaml-language-server, VS Code)."""
    from sweepnn.recipe.catalog import with_installed
    from sweepnn.recipe.config import recipe_schema

    typer.echo(json.dumps(with_installed(recipe_schema()), indent=2))


@app.command()
@errors_to_exit
def options(
    family: Annotated[
        str | None,
        typer.Argument(help="One family, e.g. optimizer; or fields: the plain settings.", show_default=False),
    ] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The reference (of FAMILY, if given) as Markdown.")
    ] = False,
) -> None:
    """List the plain fields a recipe sets and searches, and every option family: its entries, their
    parameters and defaults."""
    from sweepnn.recipe.catalog import FAMILIES, default_text
    from sweepnn.recipe.catalog import family as get_family

    fields = family is None or family.lower() in ("field", "fields")
    registries = [] if family and fields else [get_family(family)] if family else list(FAMILIES.values())
    if markdown:
        from sweepnn.recipe.catalog import fields_markdown, reference_markdown

        # without FAMILY: the option reference alone, as docs/options.md holds it
        typer.echo(fields_markdown() if family and fields else reference_markdown(registries), nl=False)
        return
    from rich.markup import escape
    from rich.table import Table

    console = stdout_console()
    if fields:
        from sweepnn.recipe.catalog import plain_fields

        rows = plain_fields()
        table = Table(
            title=f"fields ({len(rows)}): set them in a recipe, or search them by path in search.space",
            title_justify="left",
            header_style="bold",
        )
        for col in ("path", "takes", "default", "description"):
            table.add_column(col, no_wrap=col == "path")
        for f in rows:
            table.add_row(f.path, escape(f.kind), escape(default_text(f.default)), escape(f.description))
        console.print(table)
    for reg in registries:
        table = Table(title=f"{reg.family} ({len(reg.names())})", title_justify="left", header_style="bold")
        table.add_column("name", no_wrap=True)
        table.add_column("parameters (defaults)")
        table.add_column("description")
        for name in reg.names():  # the installed options too: this listing names them
            try:
                spec = reg[name]
            except SweepnnError as e:  # an installed plugin that cannot load: said in its row
                table.add_row(name, "", escape(f"cannot load: {e}"), style="red")
                continue
            params = ", ".join(f"{k}={default_text(v)}" for k, v in spec.defaults().items())
            # descriptions hold brackets ("[linear, norm, ...] x depth") that rich would read as markup
            table.add_row(name, escape(params), escape(spec.description))
        console.print(table)
