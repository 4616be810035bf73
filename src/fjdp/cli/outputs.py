"""``fjdp outputs``: check a researcher's output against the disclosure policy."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from fjdp.disclosure.policy import project_policy
from fjdp.disclosure.results import write_results
from fjdp.disclosure.spec import check_spec_file

app = typer.Typer(help="Outputs: check them against the disclosure policy.", no_args_is_help=True)


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
