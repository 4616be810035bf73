"""The researcher's API: make a table, model or figure, and get it back checked.

    from fjdp.disclosure import Session
    s = Session(mitigate="suppress_round")
    out = s.crosstab(df, index=["local_authority"], columns=["year"], margins=True,
                     unit="child_id")
    out.status, out.reasons, out.table
    s.finalise("outputs/")          # results.json in ACRO's layout, one CSV per output

Every call checks its result against the policy, mitigates it as asked, and records
the status before and after, the cell-level reasons, the line of code that made it
and the population it came from. A session with a register also checks each output
against what the project has already released (differencing).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fjdp.disclosure.models import KINDS, fit_model
from fjdp.disclosure.policy import Policy, default_policy
from fjdp.disclosure.population import apply_filter
from fjdp.disclosure.record import CheckedOutput, FlaggedCell, Status, Table
from fjdp.disclosure.register import Register
from fjdp.disclosure.survival import survival_table
from fjdp.disclosure.tables import Mitigation, TableRequest, check_table
from fjdp.errors import UsageError

AGGFUNCS = frozenset({"count", "mean", "median", "sum", "min", "max", "std", "var"})
_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def caller_line() -> str:
    """The source line outside this package that asked for the output."""
    frame = inspect.currentframe()
    try:
        while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(
            _PACKAGE_DIR
        ):
            frame = frame.f_back
        if frame is None:
            return ""
        info = inspect.getframeinfo(frame, context=1)
        code = "".join(info.code_context or []).strip()
        return f"{info.filename}:{info.lineno}: {code}"
    finally:
        del frame


def _aggfuncs(aggfunc: str | Sequence[str] | None, values: str | None) -> tuple[list[str], bool]:
    if aggfunc is None:
        return (["count"], False) if values is None else (["mean"], False)
    funcs = [aggfunc] if isinstance(aggfunc, str) else list(aggfunc)
    for f in funcs:
        if f not in AGGFUNCS and not (f.startswith("p") and f[1:].isdigit()):
            raise UsageError(
                f"unknown aggfunc {f!r}",
                fix=f"use one of {', '.join(sorted(AGGFUNCS))} or a percentile like p25",
            )
    return funcs, not isinstance(aggfunc, str)


class Session:
    """A researcher's outputs, checked one by one, finalised together."""

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        mitigate: Mitigation | str = Mitigation.SUPPRESS_ROUND,
        register: Register | None = None,
    ) -> None:
        self.policy = policy or default_policy()
        self.mitigate = Mitigation(mitigate)
        self.register = register
        # Off while replaying outputs already released (they are the register's content).
        self.differencing = True
        self.outputs: list[CheckedOutput] = []
        self.files: dict[int, list[Path]] = {}

    # -- tables -------------------------------------------------------------------------

    def crosstab(
        self,
        data: pd.DataFrame,
        index: Sequence[str],
        columns: Sequence[str],
        *,
        values: str | None = None,
        aggfunc: str | Sequence[str] | None = None,
        margins: bool = False,
        normalize: bool | str = False,
        unit: str | None = None,
        filter: str | None = None,
        mitigate: Mitigation | str | None = None,
        command: str | None = None,
    ) -> CheckedOutput:
        """A frequency table (or a table of ``aggfunc`` of ``values``), like pd.crosstab."""
        funcs, is_list = _aggfuncs(aggfunc, values)
        norm = None if normalize is False else ("all" if normalize is True else str(normalize))
        if norm is not None and (values is not None or funcs != ["count"]):
            raise UsageError(
                "normalize applies to frequency tables only",
                fix="drop values/aggfunc, or drop normalize",
            )
        return self._table(
            "crosstab", data, index, columns, values, funcs, is_list, margins, norm, unit,
            filter, mitigate, command,
        )  # fmt: skip

    def pivot_table(
        self,
        data: pd.DataFrame,
        *,
        values: str,
        index: Sequence[str],
        columns: Sequence[str] = (),
        aggfunc: str | Sequence[str] = "mean",
        margins: bool = False,
        unit: str | None = None,
        filter: str | None = None,
        mitigate: Mitigation | str | None = None,
        command: str | None = None,
    ) -> CheckedOutput:
        """A table of ``aggfunc`` of ``values`` by ``index`` (and ``columns``)."""
        funcs, is_list = _aggfuncs(aggfunc, values)
        return self._table(
            "pivot_table", data, index, columns, values, funcs, is_list, margins, None, unit,
            filter, mitigate, command,
        )  # fmt: skip

    def _table(
        self,
        operation: str,
        data: pd.DataFrame,
        index: Sequence[str],
        columns: Sequence[str],
        values: str | None,
        funcs: list[str],
        is_list: bool,
        margins: bool,
        normalize: str | None,
        unit: str | None,
        filter_: str | None,
        mitigate: Mitigation | str | None,
        command: str | None,
    ) -> CheckedOutput:
        command = command or caller_line()
        df = apply_filter(data, filter_)
        req = TableRequest(
            index=list(index),
            columns=list(columns),
            values=values,
            aggfuncs=funcs,
            aggfunc_list=is_list,
            margins=margins,
            normalize=normalize,
            unit=unit,
            mitigate=Mitigation(mitigate or self.mitigate),
            value_label=values,
            want_units=self.register is not None,
        )
        res = check_table(df, req, self.policy)
        return self._finish(
            operation,
            res.status,
            res.status_before,
            res.reasons,
            res.flagged_cells,
            res.table,
            res.mitigations,
            command=command,
            population=filter_ or "",
            units=res.evidence.units,
            dimensions=[*index, *columns],
            properties={"method": operation, "aggfunc": funcs, "margins": margins,
                        "normalize": normalize or False, "values": values, "unit": unit,
                        "mitigation": req.mitigate.value},
        )  # fmt: skip

    def hist(
        self,
        data: pd.DataFrame,
        column: str,
        bins: int | Sequence[float],
        *,
        unit: str | None = None,
        filter: str | None = None,
        mitigate: Mitigation | str | None = None,
        command: str | None = None,
    ) -> CheckedOutput:
        """Counts per bin. Bins must be given as edges: a number of bins would take its
        edges from the data's own minimum and maximum, which are never released."""
        command = command or caller_line()
        df = apply_filter(data, filter)
        how = Mitigation(mitigate or self.mitigate)
        values = df[column].dropna().to_numpy(dtype=float)
        if isinstance(bins, int | np.integer):
            reason = (
                f"bins: {int(bins)} bins from the data's own range reveal its minimum and "
                "maximum; give the bin edges as a list"
            )
            table = Table(index=[], columns=["count"], data=[])
            if how is Mitigation.NONE and values.size:
                counts, edges = np.histogram(values, bins=int(bins))
                table = Table(
                    index=[_bin_label(edges, k) for k in range(len(counts))],
                    columns=["count"],
                    data=[[int(n)] for n in counts],
                )
            return self._finish(
                "histogram", Status.FAIL, Status.FAIL, [reason], [], table, [],
                command=command, population=filter or "", units=self._units(df, unit),
                dimensions=[column], properties={"method": "hist", "bins": int(bins)},
            )  # fmt: skip
        edges = np.asarray(sorted(float(b) for b in bins))
        if edges.size < 2:
            raise UsageError("a histogram needs at least two bin edges", fix="give a list of edges")
        labels = [_bin_label(edges, k) for k in range(len(edges) - 1)]
        code = np.searchsorted(edges, df[column].to_numpy(dtype=float), side="right") - 1
        code = np.where(df[column].to_numpy(dtype=float) == edges[-1], len(edges) - 2, code)
        inside = (code >= 0) & (code < len(edges) - 1)
        frame = pd.DataFrame(
            {
                column: pd.Categorical.from_codes(
                    np.where(inside, code, -1).astype(np.int64), categories=pd.Index(labels)
                )
            }
        )
        if unit is not None:
            frame[unit] = df[unit].to_numpy()
        frame = frame[inside]
        req = TableRequest(
            index=[column],
            columns=[],
            unit=unit,
            mitigate=how,
            value_label="count",
            want_units=False,
        )
        res = check_table(frame, req, self.policy)
        reasons = list(res.reasons)
        outside = int((~inside & ~np.isnan(df[column].to_numpy(dtype=float))).sum())
        if outside:
            reasons.append(f"{outside} values fall outside the bin edges and are not counted")
        return self._finish(
            "histogram", res.status, res.status_before, reasons, res.flagged_cells, res.table,
            res.mitigations, command=command, population=filter or "", units=self._units(df, unit),
            dimensions=[column], properties={"method": "hist", "bins": edges.tolist(),
                                             "mitigation": how.value},
        )  # fmt: skip

    # -- models and survival ----------------------------------------------------------

    def ols(self, data: pd.DataFrame, y: str, x: Sequence[str], **kw: Any) -> CheckedOutput:
        return self._model("ols", data, y, x, **kw)

    def logit(self, data: pd.DataFrame, y: str, x: Sequence[str], **kw: Any) -> CheckedOutput:
        return self._model("logit", data, y, x, **kw)

    def poisson(self, data: pd.DataFrame, y: str, x: Sequence[str], **kw: Any) -> CheckedOutput:
        return self._model("poisson", data, y, x, **kw)

    def _model(
        self,
        kind: str,
        data: pd.DataFrame,
        y: str,
        x: Sequence[str],
        *,
        unit: str | None = None,
        filter: str | None = None,
        command: str | None = None,
    ) -> CheckedOutput:
        assert kind in KINDS
        command = command or caller_line()
        df = apply_filter(data, filter)
        res = fit_model(df, kind, y, list(x), self.policy)
        return self._finish(
            kind, res.status, res.status, res.reasons, [], res.table, [], command=command,
            population=filter or "", units=self._units(df.dropna(subset=[y, *x]), unit),
            dimensions=[y, *x], properties={"method": kind, "dof": res.dof, "nobs": res.nobs},
        )  # fmt: skip

    def survival(
        self,
        data: pd.DataFrame,
        time: str,
        event: str,
        *,
        unit: str | None = None,
        filter: str | None = None,
        mitigate: Mitigation | str | None = None,
        command: str | None = None,
    ) -> CheckedOutput:
        """A Kaplan-Meier table, checked at every time point."""
        command = command or caller_line()
        df = apply_filter(data, filter)
        how = Mitigation(mitigate or self.mitigate)
        res = survival_table(df, time, event, self.policy, unit=unit, mitigate=how)
        return self._finish(
            "survival", res.status, res.status_before, res.reasons, res.flagged_cells,
            res.table, res.mitigations, command=command, population=filter or "",
            units=self._units(df, unit), dimensions=[time, event],
            properties={"method": "surv_func", "mitigation": how.value},
        )  # fmt: skip

    # -- figures, release, finalise ---------------------------------------------------

    def figure(self, output: CheckedOutput, path: Path | str) -> Path:
        """A PNG bar chart of a checked table's protected counts, with those counts
        written beside it as CSV (every figure carries its underlying counts)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if output.status is Status.FAIL:
            raise UsageError(
                f"the {output.operation} output failed its checks and cannot be drawn",
                fix="mitigate it first (mitigate='suppress_round')",
            )
        path = Path(path).with_suffix(".png")
        frame = pd.DataFrame(output.table.data, index=[str(i) for i in output.table.index],
                             columns=[str(c) for c in output.table.columns])  # fmt: skip
        fig, ax = plt.subplots(figsize=(6, 4))
        frame.iloc[:, 0].astype(float).plot.bar(ax=ax)
        ax.set_ylabel(str(frame.columns[0]))
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        frame.to_csv(path.with_suffix(".csv"))
        uid = self.outputs.index(output)
        self.files.setdefault(uid, []).extend([path, path.with_suffix(".csv")])
        return path

    def release(self, output: CheckedOutput, output_id: str | None = None) -> None:
        """Record an output as released in the project's differencing register."""
        if self.register is None:
            return
        oid = output_id or f"output_{self.outputs.index(output)}"
        self.register.add(oid, output.population, output.dimensions, output.units)

    def finalise(self, folder: Path | str) -> Path:
        """Write results.json (ACRO's layout) and each output's files into ``folder``."""
        from fjdp.disclosure.results import write_results

        return write_results(self.outputs, Path(folder), self.files, self.policy)

    def _units(self, df: pd.DataFrame, unit: str | None) -> Any:
        if self.register is None:
            return []
        return df[unit].unique() if unit is not None else df.index.to_numpy()

    def _finish(
        self,
        operation: str,
        status: Status,
        status_before: Status,
        reasons: list[str],
        flagged: list[FlaggedCell],
        table: Table,
        mitigations: list[str],
        *,
        command: str,
        population: str,
        units: Any,
        dimensions: list[str],
        properties: dict[str, Any],
    ) -> CheckedOutput:
        hashed: frozenset[str] = frozenset()
        reasons = list(reasons)
        if self.register is not None:
            hashed = self.register.hash_units(units)
            hits = (
                self.register.collisions(hashed, self.policy.differencing_threshold)
                if self.differencing
                else []
            )
            for hit in hits:
                reasons.append(hit.reason())
            if hits:
                status = Status.worst(status, Status.REVIEW)
                status_before = Status.worst(status_before, Status.REVIEW)
        out = CheckedOutput(
            operation=operation,
            status=status,
            status_before=status_before,
            reasons=reasons,
            flagged_cells=flagged,
            table=table,
            policy_version=self.policy.version,
            mitigations=mitigations,
            command=command,
            population=population,
            properties=properties,
            dimensions=dimensions,
            units=hashed,
        )
        self.outputs.append(out)
        return out


def _bin_label(edges: Any, k: int) -> str:
    close = "]" if k == len(edges) - 2 else ")"
    return f"[{edges[k]:g}, {edges[k + 1]:g}{close}"
