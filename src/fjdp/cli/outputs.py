"""``fjdp outputs``: check a researcher's output against the disclosure policy; make,
review and follow output requests in the portal."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from fjdp.cli._common import console
from fjdp.disclosure.policy import project_policy
from fjdp.disclosure.results import write_results
from fjdp.disclosure.spec import check_spec_file
from fjdp.errors import UsageError

if TYPE_CHECKING:
    from fjdp.portal.commands import RequestSummary
    from fjdp.portal.config import PortalConfig

app = typer.Typer(
    help="Outputs: check them against the disclosure policy, request and review their release.",
    no_args_is_help=True,
)


def _clean(value: Any) -> Any:
    # JSON has no NaN: a missing statistic is null, like a suppressed cell.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@app.command("check")
def check(
    spec: Annotated[Path, typer.Argument(help="SPEC.json describing one output.")],
    policy: Annotated[
        Path | None, typer.Option(help="A project's policy override (YAML); tighten only.")
    ] = None,
    governance_decision: Annotated[
        str | None, typer.Option(help="The decision id that allows the override to loosen.")
    ] = None,
    results: Annotated[
        Path | None, typer.Option(help="Also write results.json (ACRO's layout) into DIR.")
    ] = None,
) -> None:
    """Check one output; print one JSON verdict. Exits 0 whatever the verdict."""
    pol = project_policy(policy, governance_decision=governance_decision)
    out, _ = check_spec_file(spec, pol)
    if results is not None:
        write_results([out], results, policy=pol)
    typer.echo(json.dumps(_clean(out.verdict()), allow_nan=False))


PortalOpt = Annotated[
    Path | None,
    typer.Option("--portal", help="The portal folder; default FJDP_PORTAL_DIR or demo/portal."),
]


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values or []:
        name, sep, text = v.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{option} {v!r} is not NAME=TEXT", fix=f"use {option} FILE=TEXT")
        out[name.strip()] = text.strip()
    return out


def _portal(folder: Path | None) -> PortalConfig:
    from fjdp.portal.config import PortalConfig

    return PortalConfig.from_env(portal_dir=folder)


def _show(s: RequestSummary) -> None:
    table = Table(title=f"{s.rid} on {s.project} by {s.requester}: {s.state}, round {s.round}")
    for col in ("file", "automatic check", "decision"):
        table.add_column(col)
    for name, status, decision in s.files:
        table.add_row(name, status, decision or "-")
    console.print(table)
    if s.checkers:
        console.print(f"Checkers: {', '.join(s.checkers)}")
    if s.bundle is not None:
        console.print(f"Release bundle: {s.bundle}", soft_wrap=True, highlight=False)


@app.command("request")
def request(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="The outputs.")],
    project: Annotated[str, typer.Option("--project", help="The project id.")],
    user: Annotated[str, typer.Option("--user", help="The researcher asking.")],
    description: Annotated[
        str,
        typer.Option(
            "--description",
            help="For the checkers: population and its size, variables, degrees of freedom, "
            "relation to earlier releases.",
        ),
    ],
    justify: Annotated[
        list[str] | None,
        typer.Option(
            "--justify", help="FILE=REASON: why a review/fail output should still be released."
        ),
    ] = None,
    portal: PortalOpt = None,
) -> None:
    """Make and submit an output request: the files are copied into the portal with
    their SHA-256 and their automatic checks (from results.json beside them)."""
    from fjdp.portal.commands import request_outputs

    summary = request_outputs(
        _portal(portal),
        project=project,
        user=user,
        files=files,
        description=description,
        justify=_pairs(justify, "--justify"),
    )
    _show(summary)


@app.command("status")
def status(
    portal: PortalOpt = None,
    project: Annotated[str | None, typer.Option("--project", help="Only this project.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this requester.")] = None,
) -> None:
    """The output requests, their files, decisions and release bundles."""
    from fjdp.portal.commands import output_status

    found = output_status(_portal(portal), project=project, user=user)
    if not found:
        console.print("No output request.")
    for s in found:
        _show(s)


@app.command("review")
def review(
    rid: Annotated[str, typer.Argument(metavar="REQUEST", help="The request id (R0001).")],
    user: Annotated[str, typer.Option("--user", help="The output checker.")],
    decide: Annotated[
        list[str] | None,
        typer.Option("--decide", help="FILE=approve|reject|return (repeat per file)."),
    ] = None,
    comment: Annotated[
        list[str] | None, typer.Option("--comment", help="FILE=TEXT (needed unless approving).")
    ] = None,
    portal: PortalOpt = None,
) -> None:
    """Take a request as an output checker and decide on its files."""
    from fjdp.portal.commands import review_outputs

    votes = _pairs(decide, "--decide")
    notes = _pairs(comment, "--comment")
    summary = review_outputs(
        _portal(portal),
        rid,
        checker=user,
        decisions={f: (v, notes.get(f, "")) for f, v in votes.items()},
    )
    _show(summary)
