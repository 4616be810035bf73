"""The ``fjdp`` application. ``main(argv, env)`` runs it in-process and returns the exit code.

User errors are printed as one line on stderr with their stable exit code; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

import typer

from fjdp import __version__
from fjdp.cli import analysis as analysis_cmd
from fjdp.cli import audit as audit_cmd
from fjdp.cli import check as check_cmd
from fjdp.cli import databank as databank_cmd
from fjdp.cli import demo as demo_cmd
from fjdp.cli import measures as measures_cmd
from fjdp.cli import outputs as outputs_cmd
from fjdp.cli import portal as portal_cmd
from fjdp.cli import provider as provider_cmd
from fjdp.cli import specs as specs_cmd
from fjdp.cli import synth as synth_cmd
from fjdp.cli import ttp as ttp_cmd
from fjdp.cli import zone as zone_cmd
from fjdp.cli._common import err_console
from fjdp.errors import UserError, from_system_error

app = typer.Typer(
    name="fjdp",
    help="fjdp: the Family Justice Data Platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("synth")(synth_cmd.synth)
app.command("demo")(demo_cmd.demo)
app.add_typer(specs_cmd.app, name="specs")
app.add_typer(zone_cmd.app, name="zone")
app.add_typer(provider_cmd.app, name="provider")
app.add_typer(ttp_cmd.ttp_app, name="ttp")
app.add_typer(databank_cmd.app, name="databank")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(portal_cmd.app, name="portal")
app.add_typer(check_cmd.app, name="check")
analysis_cmd.app.command("measures")(measures_cmd.measures)
app.add_typer(analysis_cmd.app, name="analysis")
app.add_typer(outputs_cmd.app, name="outputs")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fjdp {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """fjdp: the Family Justice Data Platform."""


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run ``fjdp`` with ``argv`` (without the program name); return the exit code."""
    old_env = None
    if env is not None:
        old_env = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
    try:
        try:
            code = app(
                args=list(argv) if argv is not None else None,
                prog_name="fjdp",
                standalone_mode=False,
            )
        except UserError as exc:
            err_console.print(f"[red]error:[/red] {exc.message()}", highlight=False, soft_wrap=True)
            return exc.exit_code
        except typer.Abort:
            err_console.print("[red]error:[/red] interrupted; nothing half-written was kept")
            return 130
        except typer.Exit as exc:
            return int(exc.exit_code)
        except typer.TyperException as exc:
            # Bad options and arguments: one line, not a usage box.
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
                typer.echo(ctx.get_help())
                return 0
            text = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            sub = ctx.command_path.removeprefix("fjdp").strip() if ctx else ""
            where = f" (fjdp {sub})" if sub else ""
            err_console.print(
                f"[red]error:[/red] {text}{where}; see --help", highlight=False, soft_wrap=True
            )
            return int(getattr(exc, "exit_code", 2))
        except Exception as exc:
            # A full disk or a denied permission, from Python, Arrow or DuckDB (whose
            # IOException is no OSError); anything else is a bug and keeps its traceback.
            refusal = from_system_error(exc)
            if refusal is None:
                raise
            err_console.print(
                f"[red]error:[/red] {refusal.message()}", highlight=False, soft_wrap=True
            )
            return refusal.exit_code
        # Outside standalone mode Click returns the code of a command's typer.Exit
        # (``fjdp check leaks`` on a finding, ``fjdp audit report --fail-on-alert``).
        return code if isinstance(code, int) else 0
    finally:
        if old_env is not None:
            os.environ.clear()
            os.environ.update(old_env)


def run() -> None:
    sys.exit(main())
