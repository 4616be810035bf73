"""Running a researcher's definition file in its own process.

The definition is Python the researcher wrote; the engine's process never executes it.
:func:`load_definition` starts a fresh interpreter with a clean environment (no
variable of the caller's but ``PATH``, ``HOME``, the locale and the table schema),
runs the file there, and reads back one JSON document: the serialised query graph, or
a one-line error with the file and line. The graph is then rebuilt by
:func:`fjdp.analysis.serialise.loads`, which accepts the query model's node types and
nothing else; so whatever the file does, what reaches the engine is a valid graph or
an error. Whatever the definition prints goes to stderr, never into the graph.

Run as ``python -m fjdp.analysis.loader DEFINITION.py`` (by :func:`load_definition`).
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404  # runs only this interpreter on fjdp's own module
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path

from fjdp.analysis import model as m
from fjdp.analysis import serialise
from fjdp.analysis.tables import SCHEMA_ENV, Source, schema_json
from fjdp.errors import InputError, UserError

TIMEOUT_S = 120
_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")


def load_definition(
    path: Path,
    sources: Mapping[str, Source],
    *,
    say: Callable[[str], None] = lambda _m: None,
    timeout: float = TIMEOUT_S,
) -> m.Dataset:
    """The dataset the definition at ``path`` builds, seeing the tables ``sources``."""
    path = Path(path).resolve()
    if not path.is_file():
        raise InputError("no definition file", where=str(path), fix="give a .py file")
    with tempfile.TemporaryDirectory(prefix="fjdp-definition-") as tmp:
        schema = Path(tmp) / "schema.json"
        schema.write_text(schema_json(sources), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV}
        env[SCHEMA_ENV] = str(schema)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        try:
            proc = subprocess.run(  # nosec B603  # fixed argv: sys.executable -I -m, no shell
                [sys.executable, "-I", "-m", "fjdp.analysis.loader", str(path)],
                env=env,
                cwd=path.parent,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise InputError(
                f"the definition did not finish within {timeout:.0f} s",
                where=str(path),
                fix="a definition only declares the dataset; move heavy work out of it",
            ) from None
    for line in proc.stderr.decode("utf-8", "replace").splitlines():
        say(line)
    out = proc.stdout.decode("utf-8", "replace")
    try:
        doc = json.loads(out)
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and set(doc) == {"error"} and isinstance(doc["error"], str):
        raise InputError(doc["error"].replace("\n", " "))
    if proc.returncode != 0:
        raise InputError(
            f"the definition's process failed (exit code {proc.returncode})", where=str(path)
        )
    return serialise.loads(out, where=str(path))


# ------------------------------------------------------------------ the child process


def _where(exc: BaseException, path: str) -> str:
    """``file:line`` of the deepest frame in the definition file, else of the file."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{Path(exc.filename).name}:{exc.lineno}"
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == Path(path).resolve():
            line = frame.lineno
    return f"{Path(path).name}:{line}" if line else Path(path).name


def _child(path: str) -> int:
    import runpy

    # The graph goes to the real stdout; anything the definition prints goes to stderr.
    result = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.path.insert(0, str(Path(path).parent))

    def answer(doc: object) -> int:
        result.write(json.dumps(doc) if not isinstance(doc, str) else doc)
        result.flush()
        return 0

    try:
        from fjdp.analysis.language import Dataset

        ns = runpy.run_path(path, run_name="definition")
        ds = ns.get("dataset")
        if not isinstance(ds, Dataset):
            got = "nothing" if ds is None else f"a {type(ds).__name__}"
            return answer(
                {
                    "error": f"{Path(path).name}: the definition must leave a dataset in a "
                    f"variable called `dataset` (it holds {got}); write "
                    "`dataset = create_dataset()`"
                }
            )
        return answer(serialise.dumps(ds.to_model()))
    except UserError as exc:
        return answer({"error": f"{_where(exc, path)}: {exc.message()}"})
    except SyntaxError as exc:
        return answer({"error": f"{_where(exc, path)}: syntax error: {exc.msg}"})
    except Exception as exc:
        return answer({"error": f"{_where(exc, path)}: {type(exc).__name__}: {exc}"})


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
