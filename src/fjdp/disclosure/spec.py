"""SPEC.json: one output described as data, checked by ``fjdp outputs check``.

Paths in a spec (``data``, and each of ``released``) are relative to the spec file.
Every problem with a spec is an :class:`InputError` naming the key (or column) and
the spec file, so the command never shows a traceback for a bad spec.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fjdp.disclosure.outputs import AGGFUNCS, Session
from fjdp.disclosure.policy import Policy
from fjdp.disclosure.record import CheckedOutput
from fjdp.disclosure.register import Register
from fjdp.disclosure.tables import Mitigation
from fjdp.errors import InputError, UserError

OPERATIONS = ("crosstab", "pivot_table", "ols", "logit", "poisson", "survival", "histogram")
NORMALIZE: dict[object, bool | str] = {
    False: False,
    True: "all",
    "all": "all",
    "index": "index",
    "columns": "columns",
}


@dataclass(frozen=True)
class Spec:
    path: Path
    raw: dict[str, Any]
    data: Path

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def bad(self, what: str, fix: str) -> InputError:
        return InputError(what, where=str(self.path), fix=fix)


def _file_beside(spec: Path, name: str) -> Path | None:
    """The file ``name`` relative to the spec, or None if there is none (a name with a
    NUL byte names no file: the operating system refuses it with a ValueError)."""
    try:
        found = (spec.parent / name).resolve()
        return found if found.is_file() else None
    except (OSError, ValueError):
        return None


def load_spec(path: Path) -> Spec:
    """Read and shape-check a SPEC.json (columns are checked against the data later)."""
    if not path.is_file():
        raise InputError(
            "spec file not found", where=str(path), fix="give the path of a SPEC.json file"
        )
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"spec is not valid JSON: {str(exc).splitlines()[0]}",
            where=str(path),
            fix="write one JSON object with at least 'data' and 'operation'",
        ) from exc
    if not isinstance(raw, dict):
        raise InputError("spec is not a JSON object", where=str(path), fix="write one JSON object")
    spec = Spec(path, raw, Path())
    data = raw.get("data")
    if not isinstance(data, str) or not data:
        raise spec.bad("spec key 'data' is missing", "give the microdata CSV, relative to the spec")
    op = raw.get("operation")
    if op not in OPERATIONS:
        raise spec.bad(
            f"spec key 'operation' is {op!r}, not a known operation",
            f"use one of: {', '.join(OPERATIONS)}",
        )
    data_path = _file_beside(path, data)
    if data_path is None:
        raise spec.bad(
            f"spec key 'data' names {data!r}, which does not exist",
            "give the microdata CSV's path relative to the spec file",
        )
    mitigate = raw.get("mitigate", "none")
    if mitigate not in tuple(m.value for m in Mitigation):
        raise spec.bad(
            f"spec key 'mitigate' is {mitigate!r}", "use none, suppress or suppress_round"
        )
    return Spec(path, raw, data_path)


def _names(spec: Spec, key: str, *, required: bool) -> list[str]:
    value = spec.get(key)
    if value is None:
        if required:
            raise spec.bad(f"spec key {key!r} is missing", f"give {key} as a list of column names")
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise spec.bad(f"spec key {key!r} is not a list of column names", "give a list of strings")
    return list(value)


def _name(spec: Spec, key: str, *, required: bool = True) -> str | None:
    value = spec.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise spec.bad(
            f"spec key {key!r} is missing or not a column name", f"give {key} as a string"
        )
    return value


def _read(spec: Spec) -> pd.DataFrame:
    try:
        return pd.read_csv(spec.data)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise spec.bad(
            f"cannot read the data CSV {spec.get('data')!r}: {str(exc).splitlines()[0]}",
            "give a readable CSV with a header row",
        ) from exc


def _check_columns(spec: Spec, df: pd.DataFrame, used: dict[str, list[str]]) -> None:
    for key, names in used.items():
        for name in names:
            if name not in df.columns:
                raise spec.bad(
                    f"spec key {key!r} names column {name!r}, which {spec.get('data')!r} "
                    "does not have",
                    f"use one of: {', '.join(map(str, df.columns))}",
                )


def run_spec(spec: Spec, session: Session, *, command: str | None = None) -> CheckedOutput:
    """Check the one output ``spec`` describes in ``session``."""
    op = spec.get("operation")
    df = _read(spec)
    unit = _name(spec, "unit", required=False)
    filt = spec.get("filter")
    if filt is not None and not isinstance(filt, str):
        raise spec.bad("spec key 'filter' is not a string", 'write it like "year == 2022"')
    mitigate = Mitigation(spec.get("mitigate", "none"))
    command = command or f"fjdp outputs check {spec.path}"
    used: dict[str, list[str]] = {"unit": [unit] if unit else []}
    common: dict[str, Any] = {"unit": unit, "filter": filt, "command": command}
    try:
        if op in ("crosstab", "pivot_table"):
            index = _names(spec, "index", required=True)
            columns = _names(spec, "columns", required=op == "crosstab")
            aggfunc = spec.get("aggfunc")
            # A count needs no values: it is the frequency table, whichever operation.
            counting = aggfunc in ("count", ["count"])
            values = _name(spec, "values", required=op == "pivot_table" and not counting)
            for f in [aggfunc] if isinstance(aggfunc, str) else (aggfunc or []):
                if not isinstance(f, str) or (f not in AGGFUNCS and not f[1:].isdigit()):
                    raise spec.bad(
                        f"spec key 'aggfunc' has {f!r}",
                        f"use {', '.join(sorted(AGGFUNCS))}, or a list of them",
                    )
            if values is None and counting:
                aggfunc = None
            if aggfunc is not None and values is None:
                raise spec.bad("spec key 'aggfunc' needs 'values'", "name the column to aggregate")
            margins = spec.get("margins", False)
            if not isinstance(margins, bool):
                raise spec.bad("spec key 'margins' is not true or false", "give a boolean")
            used |= {"index": index, "columns": columns, "values": [values] if values else []}
            _check_columns(spec, df, used)
            if op == "crosstab" or values is None:
                norm = spec.get("normalize", False)
                if norm not in NORMALIZE or (
                    isinstance(norm, int | float) and not isinstance(norm, bool)
                ):
                    raise spec.bad(
                        f"spec key 'normalize' is {norm!r}", "use false, index, columns or all"
                    )
                return session.crosstab(
                    df, index, columns, values=values, aggfunc=aggfunc, margins=margins,
                    normalize=NORMALIZE[norm], mitigate=mitigate, **common,
                )  # fmt: skip
            assert values is not None
            return session.pivot_table(
                df, values=values, index=index, columns=columns,
                aggfunc=aggfunc if aggfunc is not None else "mean", margins=margins,
                mitigate=mitigate, **common,
            )  # fmt: skip
        if op in ("ols", "logit", "poisson"):
            y = _name(spec, "y")
            x = _names(spec, "x", required=True)
            assert y is not None
            _check_columns(spec, df, used | {"y": [y], "x": x})
            model = {"ols": session.ols, "logit": session.logit, "poisson": session.poisson}[op]
            return model(df, y, x, **common)
        if op == "survival":
            time, event = _name(spec, "time"), _name(spec, "event")
            assert time is not None and event is not None
            _check_columns(spec, df, used | {"time": [time], "event": [event]})
            return session.survival(df, time, event, mitigate=mitigate, **common)
        column = _name(spec, "column")
        assert column is not None
        bins = spec.get("bins", 10)
        if isinstance(bins, bool) or not (
            isinstance(bins, int)
            or (
                isinstance(bins, list)
                and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bins)
            )
        ):
            raise spec.bad("spec key 'bins' is neither a number nor a list of edges", "give edges")
        _check_columns(spec, df, used | {"column": [column]})
        return session.hist(df, column, bins, mitigate=mitigate, **common)
    except UserError as exc:
        if isinstance(exc, InputError) and exc.where is not None and str(exc.where):
            raise
        raise InputError(exc.what, where=str(spec.path), fix=exc.fix) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise spec.bad(
            f"the {op} cannot be computed: {(str(exc) or type(exc).__name__).splitlines()[0]}",
            "check the columns' types (numbers where numbers are needed)",
        ) from exc


def check_spec_file(
    path: Path, policy: Policy, *, register: Register | None = None
) -> tuple[CheckedOutput, Session]:
    """Register every spec in ``released`` first, then check the spec itself."""
    spec = load_spec(path)
    register = register or Register()
    session = Session(policy, mitigate=Mitigation(spec.get("mitigate", "none")), register=register)
    released = spec.get("released", [])
    if not isinstance(released, list) or not all(isinstance(r, str) for r in released):
        raise spec.bad("spec key 'released' is not a list of spec paths", "give a list of paths")
    for rel in released:
        rel_path = _file_beside(path, rel)
        if rel_path is None:
            raise spec.bad(
                f"spec key 'released' names {rel!r}, which does not exist",
                "give released specs' paths relative to this spec",
            )
        session.differencing = False  # released outputs are not checked against each other
        old = run_spec(load_spec(rel_path), session)
        session.differencing = True
        register.add(str(rel), old.population, old.dimensions, old.units)
    out = run_spec(spec, session)
    return out, session
