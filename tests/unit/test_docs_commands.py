"""Every `fjdp` command the documentation names exists, with the options it gives it.

The README and every page under docs/ are read for `fjdp ...` in code blocks and inline
code; each is walked down the CLI's command tree, and every `--option`
must be one of that command's options. A renamed command or option fails here rather
than in a reader's terminal.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from fjdp.cli.app import app

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
# Where a command line ends inside a shell snippet.
_END = re.compile(r"\s(?:#|\||&&|;)|\)|$")
_MENTION = re.compile(r"(?:^|(?<=[\s(/]))fjdp\s+(?P<rest>.*)")
_PLACEHOLDER = ("…", "...")


def _code(text: str) -> list[str]:
    """The code of a page: each fenced block's lines (continuations joined) and each
    inline code span."""
    out: list[str] = []
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
    for block in fenced:
        out += block.replace("\\\n", " ").splitlines()
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.M | re.S)
    out += re.findall(r"`([^`\n]+)`", prose)
    return out


def mentions(text: str) -> list[str]:
    found = []
    for line in _code(text):
        for m in _MENTION.finditer(line):
            rest = m.group("rest")
            found.append("fjdp " + rest[: _END.search(rest).start()].strip())  # type: ignore[union-attr]
    return found


def _tokens(command: str) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return [w.strip("[]") for w in words[1:]]


def problem(command: str, root: Any) -> str | None:
    """Why ``command`` would not run as written, or None."""
    here = root
    for word in _tokens(command):
        if not word or word.startswith("<"):
            return None
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            if not name.startswith("--"):
                continue  # short options are checked by their long names in the pages
            opts = {o for p in here.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
            if name not in opts:
                return f"{here.name} has no option {name}"
            continue
        # Typer's commands are its own copy of click's: a group is what has subcommands.
        if getattr(here, "commands", None) is not None:
            if word in _PLACEHOLDER:
                return None
            sub = here.commands.get(word)
            if sub is None:
                return f"{here.name} has no command {word!r}"
            here = sub
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_command_named_exists_with_its_options(page: Path) -> None:
    root = typer.main.get_command(app)
    named = mentions(page.read_text(encoding="utf-8"))
    assert named, f"{page} names no fjdp command"
    wrong = [f"{c}: {why}" for c in named if (why := problem(c, root)) is not None]
    assert not wrong, "\n".join(wrong)


def test_the_checker_catches_a_wrong_command_and_option() -> None:
    root = typer.main.get_command(app)
    text = (
        "```sh\nfjdp ttp link --dataset x --zone z --engine spark \\\n  --fast\n```\n`fjdp ttp lnk`"
    )
    found = [" ".join(f.split()) for f in mentions(text)]
    assert found == ["fjdp ttp link --dataset x --zone z --engine spark --fast", "fjdp ttp lnk"]
    assert problem(found[0], root) == "link has no option --fast"
    assert problem(found[1], root) == "ttp has no command 'lnk'"
    assert problem("fjdp databank revoke --project P --zone Z --reason 'r'", root) is None
