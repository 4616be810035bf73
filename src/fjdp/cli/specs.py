"""``fjdp specs``: the dataset specifications."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from fjdp.cli._common import console
from fjdp.specs import all_specs, load_spec

app = typer.Typer(help="Dataset specifications: list them, show one.", no_args_is_help=True)


@app.command("list")
def list_specs() -> None:
    """List the dataset specs shipped with fjdp."""
    table = Table(title="Dataset specs")
    for col in ("name", "version", "title", "tables", "provider"):
        table.add_column(col)
    for s in all_specs():
        table.add_row(
            s.name, str(s.version), s.title, ", ".join(t.name for t in s.tables), s.provider
        )
    console.print(table)
    console.print("Show one with `fjdp specs show NAME`; use your own with `--spec FILE.yaml`.")


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A spec name, or a path to a spec YAML file.")],
) -> None:
    """Show a spec: every table, its columns, their roles and rules."""
    spec = load_spec(name)
    console.print(f"[bold]{spec.name}[/bold] v{spec.version}: {spec.title} ({spec.provider})")
    if spec.description:
        console.print(spec.description.strip())
    for t in spec.table_order:
        table = Table(
            title=f"{t.name}" + (f" (key {t.key})" if t.key else ""), title_justify="left"
        )
        for col in ("column", "type", "role", "rules"):
            table.add_column(col)
        for c in t.columns:
            rules = []
            if c.required:
                rules.append("required")
            if c.format:
                rules.append(c.format.value)
            if c.codes:
                rules.append("codes: " + ", ".join(c.codes))
            if c.min is not None or c.max is not None:
                rules.append(
                    f"range {'' if c.min is None else c.min}..{'' if c.max is None else c.max}"
                )
            if c.references:
                rules.append(f"-> {c.references}")
            role = {"identifier": "identifier (File 1)", "content": "content (File 2)"}.get(
                c.role.value, c.role.value
            )
            table.add_row(c.name, c.type.value, role, "; ".join(rules) + f" [{c.action.value}]")
        console.print(table)
        for g in t.persons:
            console.print(
                f"  person [bold]{g.name}[/bold]: "
                + ", ".join(f"{k}={v}" for k, v in g.columns.items())
            )
        for chk in t.checks:
            console.print(
                f"  check: {chk.earlier} <= {chk.later}" + (f" (via {chk.via})" if chk.via else "")
            )
