"""The query graph compiled to Ibis expressions, which Ibis turns into each engine's SQL.

A person series is compiled over a *person table*: every person of the tables the
graph reads (the universe), left-joined to one small table per source of person
values (a picked row, an aggregate over an event frame, a per-person table), keyed by
``alf_pe``. Person expressions are then column expressions over that table. An event
series is compiled over its frame's table; a person value used in an event context
(events before the person's first application) is computed as a person table and
joined onto the events by ``alf_pe``.

Sorting puts nulls first, on every engine: DuckDB and Spark disagree on the default.
Ties in a sort are broken arbitrarily; sort by more columns to make a pick certain.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from fjdp.analysis import model as m
from fjdp.analysis.model import Type
from fjdp.analysis.tables import Source
from fjdp.errors import InputError

ViewReader = Callable[[str], ir.Table]

_IBIS_TYPES = {
    Type.BOOL: "boolean",
    Type.INT: "int64",
    Type.FLOAT: "float64",
    Type.STR: "string",
    Type.DATE: "date",
}


class Compiler:
    """Compiles datasets of one workspace: ``view(name)`` gives the Ibis table of a
    workspace view (``court_public.persons``), ``sources`` how each table is made."""

    def __init__(
        self,
        view: ViewReader,
        sources: Mapping[str, Source],
        statuses: tuple[str, ...] | None,
        *,
        scope_statuses: tuple[str, ...] | None = None,
    ) -> None:
        self.view = view
        self.sources = sources
        self.statuses = statuses
        # the statuses the workspace was provisioned with: a table without link_status
        # holds no others, so it needs no filter when they are all wanted
        self.scope_statuses = scope_statuses
        self._names = (f"_c{i}" for i in itertools.count())
        self._tables: dict[str, ir.Table] = {}

    # ------------------------------------------------------------------ tables

    def table(self, schema: m.TableSchema) -> ir.Table:
        """The rows of a table the link statuses allow, with ``alf_pe`` and the columns."""
        if schema.name in self._tables:
            return self._tables[schema.name]
        src = self.sources.get(schema.name)
        if src is None:
            raise InputError(
                f"the workspace has no table {schema.name}",
                fix="the project's scope does not include it; see `fjdp analysis tables`",
            )
        have = set(src.schema.column_names)
        missing = [c for c in schema.column_names if c not in have]
        if missing:
            raise InputError(
                f"table {schema.name} of this workspace has no columns {missing}",
                fix="the project's scope does not include them",
            )
        t = self._person_table(src) if src.parts else self._build(src)
        self._tables[schema.name] = t
        return t

    def _build(self, src: Source, *, joins: bool = True) -> ir.Table:
        base = self.view(src.view)
        t = base.select(**{name: base[phys] for phys, name in src.columns})
        for i, j in enumerate(src.joins if joins else ()):
            r = self.view(j.view)
            key = f"_j{i}"
            r = r.select(**{key: r[j.right_on]}, **{name: r[phys] for phys, name in j.columns})
            r = r.distinct(on=key, keep="first") if j.view.startswith("reference.") else r
            t = t.left_join(r, t[j.left_on] == r[key]).drop(key)
        t = t.filter(t.alf_pe.notnull())
        if self.statuses is not None and not (
            self.scope_statuses is not None and set(self.scope_statuses) <= set(self.statuses)
        ):
            if not src.has_link_status:
                raise InputError(
                    f"table {src.schema.name} has no link_status column, so its rows cannot "
                    "be limited to the chosen link statuses",
                    fix="ask for link_status in the project's scope, or use --links all",
                )
            t = t.filter(t.link_status.isin(list(self.statuses)))
        return t.select("alf_pe", *(c for c in src.schema.column_names if c in t.columns))

    def _person_table(self, src: Source) -> ir.Table:
        """One row per person from the tables that hold persons themselves (their own
        columns, no joins): File 3 gives every dataset the spine's values."""
        wanted = src.schema.column_names
        parts = []
        for name in src.parts:
            part = self.sources[name]
            own = {n for _p, n in part.columns}
            if not all(c in own for c in wanted):
                continue  # a table that takes its person from another table
            parts.append(self._build(part, joins=False).select("alf_pe", *wanted))
        if not parts:
            raise InputError(f"no table of this workspace gives {src.schema.name}")
        u = ibis.union(*parts)
        return u.group_by("alf_pe").aggregate(**{c: u[c].min() for c in wanted})

    def universe(self, node: object) -> ir.Table:
        """Every person in any table the graph reads."""
        ids = [self.table(s).select("alf_pe") for s in m.tables_of(node)]
        return ibis.union(*ids, distinct=True) if len(ids) > 1 else ids[0].distinct()

    # ------------------------------------------------------------------ dataset

    def dataset(self, ds: m.Dataset) -> ir.Table:
        """One row per person of the population: ``alf_pe`` and the columns."""
        universe = self.universe(ds)
        series = [ds.population, *(s for _n, s in ds.columns)]
        w, exprs = self._person_values(universe, series)
        pop, *cols = exprs
        out = w.filter(pop.fill_null(False)).select(
            "alf_pe", **{name: e for (name, _s), e in zip(ds.columns, cols, strict=True)}
        )
        return out.order_by("alf_pe")

    def person_table(self, s: m.Series, universe: ir.Table) -> ir.Table:
        """``alf_pe, v`` for one person series."""
        w, (e,) = self._person_values(universe, [s])
        return w.select("alf_pe", v=e)

    def _person_values(
        self, universe: ir.Table, series: list[m.Series]
    ) -> tuple[ir.Table, list[ir.Value]]:
        """The universe with every source of person values joined, and each series as an
        expression over it."""
        groups: dict[tuple[str, m.Frame], list[m.Series]] = {}
        for s in series:
            self._collect(s, groups)
        w = universe
        names: dict[object, str] = {}
        for key, members in groups.items():
            t, cols = self._source_table(key, members)
            w = w.left_join(t, w.alf_pe == t.alf_pe).drop("alf_pe_right")
            names.update(cols)
        exprs = [self._person_expr(s, w, names) for s in series]
        return w, exprs

    def _collect(self, s: m.Series, groups: dict[tuple[str, m.Frame], list[m.Series]]) -> None:
        """Find the sources of person values under ``s``, grouped so one table serves
        every column of a picked row and every aggregate of one frame."""
        match s:
            case m.Column(source=src) if src.kind is m.Kind.PERSON:
                groups.setdefault(("frame", src), []).append(s)
            case m.AggregateFrame(source=src):
                groups.setdefault(("agg", src), []).append(s)
            case m.AggregateSeries(source=inner):
                assert inner.frame is not None  # the model checks it
                groups.setdefault(("agg", inner.frame), []).append(s)
            case _:
                for c in m.children(s):
                    if isinstance(c, m.Series):
                        self._collect(c, groups)

    def _source_table(
        self, key: tuple[str, m.Frame], members: list[m.Series]
    ) -> tuple[ir.Table, dict[object, str]]:
        kind, frame = key
        names: dict[object, str] = {}
        if kind == "frame":
            t = self._person_frame(frame)
            cols = {}
            for c in members:
                assert isinstance(c, m.Column)
                if c not in names:
                    names[c] = next(self._names)
                    cols[names[c]] = t[c.name]
            return t.select("alf_pe", **cols), names
        t = self._event_frame(frame)
        # an aggregated value may use a person's own value (days from their first event)
        t, subst = self._with_person_values(
            t, [a.source for a in members if isinstance(a, m.AggregateSeries)]
        )
        aggs: dict[str, ir.Value] = {}
        for a in members:
            if a in names:
                continue
            name = names[a] = next(self._names)
            if isinstance(a, m.AggregateFrame):
                aggs[name] = t.count() if a.func is m.Aggregate.COUNT else t.count() > 0
            else:
                assert isinstance(a, m.AggregateSeries)
                v = self._event_expr(a.source, t, subst)
                aggs[name] = {
                    m.Aggregate.MIN: lambda v: v.min(),
                    m.Aggregate.MAX: lambda v: v.max(),
                    m.Aggregate.SUM: lambda v: v.sum(),
                    m.Aggregate.COUNT_DISTINCT: lambda v: v.nunique(),
                }[a.func](v)
        return t.group_by("alf_pe").aggregate(**aggs), names

    # ------------------------------------------------------------------ frames

    def _person_frame(self, f: m.Frame) -> ir.Table:
        match f:
            case m.SelectTable(schema=schema):
                return self.table(schema)
            case m.PickOne(source=sort, position=pos):
                t = self._event_frame(sort.source)
                t, subst = self._with_person_values(t, list(sort.keys))
                order = []
                for k in sort.keys:
                    e = self._event_expr(k, t, subst)
                    if pos is m.Position.FIRST:
                        order += [e.isnull().desc(), e.asc()]
                    else:
                        order += [e.isnull().asc(), e.desc()]
                rn = ibis.row_number().over(group_by=t.alf_pe, order_by=order)
                cols = list(sort.source.table.column_names)
                return t.mutate(_rn=rn).filter(ibis._["_rn"] == 0).select("alf_pe", *cols)
            case m.Filter(source=src, condition=cond):
                t = self._person_frame(src)
                ct = self.person_table(cond, t.select("alf_pe"))
                t = t.left_join(ct, t.alf_pe == ct.alf_pe).drop("alf_pe_right")
                return t.filter(t.v.fill_null(False)).drop("v")
        raise AssertionError(f"not a person frame: {f!r}")

    def _event_frame(self, f: m.Frame) -> ir.Table:
        match f:
            case m.SelectTable(schema=schema):
                return self.table(schema)
            case m.Sort(source=src):
                return self._event_frame(src)
            case m.Filter(source=src, condition=cond):
                base = self._event_frame(src)
                cols = base.columns
                t, subst = self._with_person_values(base, [cond])
                e = self._event_expr(cond, t, subst)
                return t.filter(e.fill_null(False)).select(*cols)
        raise AssertionError(f"not an event frame: {f!r}")

    def _with_person_values(
        self, t: ir.Table, series: list[m.Series]
    ) -> tuple[ir.Table, dict[m.Series, ir.Value]]:
        """``t`` with a column for each person value used in ``series``, joined by person."""
        found: list[m.Series] = []
        for s in series:
            _person_parts(s, found)
        parts = list(dict.fromkeys(found))
        if not parts:
            return t, {}
        # every person value in one table, joined once
        w, exprs = self._person_values(t.select("alf_pe").distinct(), parts)
        names = [next(self._names) for _p in parts]
        pt = w.select(_pk="alf_pe", **{n: e for n, e in zip(names, exprs, strict=True)})
        t = t.left_join(pt, t.alf_pe == pt._pk).drop("_pk")
        return t, {p: t[n] for p, n in zip(parts, names, strict=True)}

    # ------------------------------------------------------------------ expressions

    def _person_expr(self, s: m.Series, w: ir.Table, names: Mapping[object, str]) -> ir.Value:
        def rec(x: m.Series) -> ir.Value:
            if x in names:
                e = w[names[x]]
                if isinstance(x, m.AggregateFrame):
                    return e.fill_null(0) if x.func is m.Aggregate.COUNT else e.fill_null(False)
                if isinstance(x, m.AggregateSeries) and x.func is m.Aggregate.COUNT_DISTINCT:
                    return e.fill_null(0)
                return e
            return _expr(x, rec)

        return rec(s)

    def _event_expr(
        self, s: m.Series, t: ir.Table, subst: Mapping[m.Series, ir.Value] | None = None
    ) -> ir.Value:
        subst = subst or {}

        def rec(x: m.Series) -> ir.Value:
            if x in subst:
                return subst[x]
            if isinstance(x, m.Column) and x.source.kind is m.Kind.EVENT:
                return t[x.name]
            if x.frame is None and not x.is_constant:
                raise AssertionError(f"a person value {x.describe()} was not joined")
            return _expr(x, rec)

        return rec(s)


def _person_parts(s: m.Series, out: list[m.Series]) -> None:
    """The largest person-valued, non-constant parts of an event series."""
    if s.frame is None and not s.is_constant:
        out.append(s)
        return
    for c in m.children(s):
        if isinstance(c, m.Series):
            _person_parts(c, out)


def _literal(v: m.Literal) -> ir.Value:
    return ibis.literal(v, type=_IBIS_TYPES[m.type_of_value(v)])


def _expr(s: m.Series, rec: Callable[[m.Series], ir.Value]) -> ir.Value:
    """Row-wise operations, the same over person and event tables."""
    match s:
        case m.Value(value=v):
            return _literal(v)
        case m.Function(op=op, args=args):
            a = [rec(x) for x in args]
            return _function(op, a, args)
        case m.IsIn(source=src, values=values, prefix=prefix):
            e = rec(src)
            if prefix:
                out = None
                for v in values:
                    cond = e.startswith(str(v))
                    out = cond if out is None else out | cond
                return out
            return e.isin(list(values))
        case m.DateShift(date=d, amount=n, unit=unit):
            code = {m.DateUnit.DAYS: "D", m.DateUnit.MONTHS: "M", m.DateUnit.YEARS: "Y"}[unit]
            return rec(d) + rec(n).as_interval(code)
        case m.DateDiff(end=e, start=st, unit=unit):
            return _date_diff(rec(e), rec(st), unit)
        case m.Case(cases=cases, otherwise=other):
            branches = [(rec(c), rec(v)) for c, v in cases]
            if s.type is Type.FLOAT:
                branches = [(c, v.cast("float64")) for c, v in branches]
            default = rec(other) if other is not None else ibis.null(_IBIS_TYPES[s.type])
            if other is not None and s.type is Type.FLOAT:
                default = default.cast("float64")
            return ibis.cases(*branches, else_=default)
    raise AssertionError(f"cannot compile {type(s).__name__}")


def _function(op: m.Op, a: list[Any], args: tuple[m.Series, ...]) -> ir.Value:
    match op:
        case m.Op.EQ:
            return a[0] == a[1]
        case m.Op.NE:
            return a[0] != a[1]
        case m.Op.LT:
            return a[0] < a[1]
        case m.Op.LE:
            return a[0] <= a[1]
        case m.Op.GT:
            return a[0] > a[1]
        case m.Op.GE:
            return a[0] >= a[1]
        case m.Op.AND:
            return a[0] & a[1]
        case m.Op.OR:
            return a[0] | a[1]
        case m.Op.NOT:
            return ~a[0]
        case m.Op.ADD:
            return a[0] + a[1]
        case m.Op.SUB:
            return a[0] - a[1]
        case m.Op.MUL:
            return a[0] * a[1]
        case m.Op.NEG:
            return -a[0]
        case m.Op.IS_NULL:
            if args[0].type is Type.BOOL and not isinstance(args[0], m.Column):
                # Ibis writes `NOT (x) IS NULL`, which SQL reads as NOT (x IS NULL)
                return ibis.cases((a[0], False), (~a[0], False), else_=True)
            return a[0].isnull()
        case m.Op.YEAR:
            return a[0].year().cast("int64")
        case m.Op.MONTH:
            return a[0].month().cast("int64")
    raise AssertionError(f"unknown operation {op} on {args}")


def _date_diff(end: Any, start: Any, unit: m.DateUnit) -> ir.Value:
    if unit is m.DateUnit.DAYS:
        return (end.epoch_days() - start.epoch_days()).cast("int64")

    def forward(e: Any, s: Any) -> Any:
        # completed months from s to e (e on or after s): the month count, less one when
        # the day of the month is not yet reached
        months = (e.year() - s.year()) * 12 + (e.month() - s.month())
        months = months - ibis.ifelse(e.day() < s.day(), 1, 0)
        return months if unit is m.DateUnit.MONTHS else (months / 12).floor()

    # a negative span is the forward one negated, so -(a - b) == (b - a)
    out = ibis.ifelse(end >= start, forward(end, start), -forward(start, end))
    return out.cast("int64")
