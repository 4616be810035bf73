"""The researcher's language: dataset definitions in plain Python.

A definition file builds a dataset and leaves it in a variable called ``dataset``::

    from fjdp.analysis import create_dataset, years
    from fjdp.analysis.tables import court_public, demographics

    subjects = court_public.application_persons.where(
        court_public.application_persons.role == "subject"
    )
    first = subjects.sort_by(subjects.application_issue_date).first_for_person()

    dataset = create_dataset()
    dataset.define_population(first.exists_for_person())
    dataset.issue_date = first.application_issue_date
    dataset.age = (first.application_issue_date - demographics.week_of_birth).years

Every call builds a node of the query model (:mod:`fjdp.analysis.model`), which checks
itself at once: an error names the column and the line that made it, before anything
runs. Nothing here reads data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from fjdp.analysis import model as m
from fjdp.analysis.model import DefinitionError, Type

Value = bool | int | float | str | dt.date


def _node(x: object) -> m.Series:
    if isinstance(x, Series):
        return x.node
    if isinstance(x, Duration):
        raise DefinitionError(
            f"{x!r} is a duration; add it to or subtract it from a date",
            fix="e.g. issue_date - years(2)",
        )
    return m.Value(x)  # type: ignore[arg-type]  # Value checks the type and names it


def wrap(node: m.Series) -> Series:
    cls: type[Series] = {
        Type.BOOL: BoolSeries,
        Type.INT: IntSeries,
        Type.FLOAT: FloatSeries,
        Type.STR: StrSeries,
        Type.DATE: DateSeries,
    }[node.type]
    return cls(node)


class Series:
    """A value per row of a frame (an event series) or per person (a person series)."""

    __slots__ = ("node",)

    def __init__(self, node: m.Series) -> None:
        self.node = node

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.node.describe()}>"

    def __bool__(self) -> NoReturn:
        raise DefinitionError(
            f"{self.node.describe()} has no truth value while the definition is built",
            fix="combine conditions with &, | and ~ rather than and, or, not, if",
        )

    __hash__ = None  # type: ignore[assignment]  # == builds a condition, so no hashing

    def _fn(self, op: m.Op, *others: object) -> Series:
        return wrap(m.Function(op, (self.node, *(_node(o) for o in others))))

    def __eq__(self, other: object) -> BoolSeries:  # type: ignore[override]
        return self._fn(m.Op.EQ, other)  # type: ignore[return-value]

    def __ne__(self, other: object) -> BoolSeries:  # type: ignore[override]
        return self._fn(m.Op.NE, other)  # type: ignore[return-value]

    def is_null(self) -> BoolSeries:
        return self._fn(m.Op.IS_NULL)  # type: ignore[return-value]

    def is_not_null(self) -> BoolSeries:
        return ~self.is_null()

    def is_in(self, codes: Iterable[Value] | Codelist) -> BoolSeries:
        """Whether the value is one of ``codes`` (a list, or a :class:`Codelist`)."""
        if isinstance(codes, Codelist):
            return wrap(m.IsIn(self.node, codes.codes, prefix=codes.prefix))  # type: ignore[return-value]
        if isinstance(codes, str):
            raise DefinitionError(
                f"is_in({codes!r}) on {self.node.describe()} takes a list of codes",
                fix=f"write is_in([{codes!r}])",
            )
        return wrap(m.IsIn(self.node, tuple(codes)))  # type: ignore[return-value]

    def is_not_in(self, codes: Iterable[Value] | Codelist) -> BoolSeries:
        return ~self.is_in(codes)

    def when_null_then(self, other: object) -> Series:
        """This value, or ``other`` where it is null."""
        return case(when(self.is_null()).then(other), otherwise=self)

    # Aggregations of an event series to one value per person.
    def min_for_person(self) -> Series:
        return wrap(m.AggregateSeries(self.node, m.Aggregate.MIN))

    def max_for_person(self) -> Series:
        return wrap(m.AggregateSeries(self.node, m.Aggregate.MAX))

    def count_distinct_for_person(self) -> IntSeries:
        return wrap(m.AggregateSeries(self.node, m.Aggregate.COUNT_DISTINCT))  # type: ignore[return-value]


class _Ordered(Series):
    __slots__ = ()

    def __lt__(self, other: object) -> BoolSeries:
        return self._fn(m.Op.LT, other)  # type: ignore[return-value]

    def __le__(self, other: object) -> BoolSeries:
        return self._fn(m.Op.LE, other)  # type: ignore[return-value]

    def __gt__(self, other: object) -> BoolSeries:
        return self._fn(m.Op.GT, other)  # type: ignore[return-value]

    def __ge__(self, other: object) -> BoolSeries:
        return self._fn(m.Op.GE, other)  # type: ignore[return-value]

    def is_between(self, low: object, high: object) -> BoolSeries:
        """``low <= value <= high``, both ends included."""
        return (self >= low) & (self <= high)


class BoolSeries(Series):
    __slots__ = ()

    def __and__(self, other: object) -> BoolSeries:
        return self._fn(m.Op.AND, other)  # type: ignore[return-value]

    def __rand__(self, other: object) -> BoolSeries:
        return self._fn(m.Op.AND, other)  # type: ignore[return-value]

    def __or__(self, other: object) -> BoolSeries:
        return self._fn(m.Op.OR, other)  # type: ignore[return-value]

    def __ror__(self, other: object) -> BoolSeries:
        return self._fn(m.Op.OR, other)  # type: ignore[return-value]

    def __invert__(self) -> BoolSeries:
        return self._fn(m.Op.NOT)  # type: ignore[return-value]


class _Number(_Ordered):
    __slots__ = ()

    def __add__(self, other: object) -> Series:
        return self._fn(m.Op.ADD, other)

    def __radd__(self, other: object) -> Series:
        return wrap(m.Function(m.Op.ADD, (_node(other), self.node)))

    def __sub__(self, other: object) -> Series:
        return self._fn(m.Op.SUB, other)

    def __rsub__(self, other: object) -> Series:
        return wrap(m.Function(m.Op.SUB, (_node(other), self.node)))

    def __mul__(self, other: object) -> Series:
        return self._fn(m.Op.MUL, other)

    def __rmul__(self, other: object) -> Series:
        return self._fn(m.Op.MUL, other)

    def __neg__(self) -> Series:
        return self._fn(m.Op.NEG)

    def sum_for_person(self) -> Series:
        return wrap(m.AggregateSeries(self.node, m.Aggregate.SUM))


class IntSeries(_Number):
    __slots__ = ()


class FloatSeries(_Number):
    __slots__ = ()


class StrSeries(_Ordered):
    __slots__ = ()

    def starts_with(self, prefixes: str | Iterable[str]) -> BoolSeries:
        """Whether the value starts with any of ``prefixes`` (ICD-10: ``"F1"`` is F10–F19)."""
        codes = (prefixes,) if isinstance(prefixes, str) else tuple(prefixes)
        return wrap(m.IsIn(self.node, codes, prefix=True))  # type: ignore[return-value]


class DateSeries(_Ordered):
    __slots__ = ()

    @property
    def year(self) -> IntSeries:
        return self._fn(m.Op.YEAR)  # type: ignore[return-value]

    @property
    def month(self) -> IntSeries:
        return self._fn(m.Op.MONTH)  # type: ignore[return-value]

    def __add__(self, other: object) -> DateSeries:
        if not isinstance(other, Duration):
            raise DefinitionError(
                f"{self.node.describe()} + {other!r}: add a duration to a date",
                fix="use days(n), months(n) or years(n)",
            )
        return wrap(m.DateShift(self.node, _node(other.amount), other.unit))  # type: ignore[return-value]

    def __radd__(self, other: object) -> DateSeries:
        return self.__add__(other)

    def __sub__(self, other: object) -> Any:
        """A date minus a duration is a date; a date minus a date is a
        :class:`DateDifference` (``.days``, ``.months``, ``.years``)."""
        if isinstance(other, Duration):
            return self + (-other)
        if isinstance(other, DateSeries | dt.date):
            return DateDifference(self.node, _node(other))
        raise DefinitionError(
            f"{self.node.describe()} - {other!r}: subtract a date or a duration from a date",
            fix="use days(n), months(n), years(n) or another date",
        )

    def __rsub__(self, other: object) -> DateDifference:
        if isinstance(other, dt.date):
            return DateDifference(_node(other), self.node)
        raise DefinitionError(f"{other!r} - {self.node.describe()} is not defined")

    def is_before(self, other: object) -> BoolSeries:
        return self < other

    def is_on_or_before(self, other: object) -> BoolSeries:
        return self <= other

    def is_after(self, other: object) -> BoolSeries:
        return self > other

    def is_on_or_after(self, other: object) -> BoolSeries:
        return self >= other


@dataclass(frozen=True)
class Duration:
    """A number of days, months or years to add to or take from a date."""

    amount: int | IntSeries
    unit: m.DateUnit

    def __neg__(self) -> Duration:
        return Duration(-self.amount, self.unit)  # type: ignore[arg-type]


def days(n: int | IntSeries) -> Duration:
    return Duration(n, m.DateUnit.DAYS)


def months(n: int | IntSeries) -> Duration:
    return Duration(n, m.DateUnit.MONTHS)


def years(n: int | IntSeries) -> Duration:
    return Duration(n, m.DateUnit.YEARS)


class DateDifference:
    """``end - start`` for two dates, counted in whole days, months or years."""

    __slots__ = ("end", "start")

    def __init__(self, end: m.Series, start: m.Series) -> None:
        self.end, self.start = end, start

    def _in(self, unit: m.DateUnit) -> IntSeries:
        return wrap(m.DateDiff(self.end, self.start, unit))  # type: ignore[return-value]

    @property
    def days(self) -> IntSeries:
        return self._in(m.DateUnit.DAYS)

    @property
    def months(self) -> IntSeries:
        """Completed months, as an age in months."""
        return self._in(m.DateUnit.MONTHS)

    @property
    def years(self) -> IntSeries:
        """Completed years, as an age."""
        return self._in(m.DateUnit.YEARS)


@dataclass(frozen=True)
class Codelist:
    """A named list of codes; with ``prefix=True`` a code matches every value starting
    with it (ICD-10 ``F1`` takes in F10–F19)."""

    codes: tuple[Value, ...]
    prefix: bool = False
    name: str = ""


def codelist(codes: Iterable[Value], *, prefix: bool = False, name: str = "") -> Codelist:
    return Codelist(tuple(codes), prefix, name)


# ------------------------------------------------------------------------------- case


@dataclass(frozen=True)
class _When:
    condition: m.Series

    def then(self, value: object) -> _Branch:
        return _Branch(self.condition, _node(value))


@dataclass(frozen=True)
class _Branch:
    condition: m.Series
    value: m.Series

    def otherwise(self, value: object) -> Series:
        return case(self, otherwise=value)


def when(condition: BoolSeries) -> _When:
    return _When(_node(condition))


def case(*branches: _Branch, otherwise: object = None) -> Series:
    """The value of the first branch whose condition holds, else ``otherwise`` (or null)."""
    other = None if otherwise is None else _node(otherwise)
    return wrap(m.Case(tuple((b.condition, b.value) for b in branches), other))


def maximum_of(*values: object) -> Series:
    """The larger of several values per row (nulls are passed over)."""
    nodes = [_node(v) for v in values]
    out = wrap(nodes[0])
    for n in nodes[1:]:
        nxt = wrap(n)
        out = case(when(out.is_null() | (nxt > out)).then(nxt), otherwise=out)  # type: ignore[operator]
    return out


# ------------------------------------------------------------------------------- frames


class _Frame:
    """Rows of a table; its columns are attributes (``frame.issue_date``)."""

    def __init__(self, node: m.Frame) -> None:
        object.__setattr__(self, "_node", node)

    @property
    def node(self) -> m.Frame:
        node: m.Frame = object.__getattribute__(self, "_node")
        return node

    def __getattr__(self, name: str) -> Series:
        if name.startswith("__"):
            raise AttributeError(name)
        table = self.node.table
        if name in ("first_for_person", "last_for_person"):
            raise DefinitionError(
                f"{name}() on {self.node.describe()} needs an order",
                fix=f"write .sort_by(<date column>).{name}()",
            )
        if name not in table.column_names:
            raise DefinitionError(
                f"table {table.name} has no column {name!r}; it has "
                f"{', '.join(table.column_names)}",
                fix="use one of those columns",
            )
        return wrap(m.Column(self.node, name))

    def __setattr__(self, name: str, value: object) -> None:
        raise DefinitionError(f"a table's columns cannot be set ({self.node.describe()}.{name})")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.node.table.column_names))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.node.describe()}>"


class EventFrame(_Frame):
    """Any number of rows per person."""

    def where(self, condition: BoolSeries | bool) -> EventFrame:
        """The rows where ``condition`` is true (null counts as false)."""
        return EventFrame(m.Filter(self.node, _node(condition)))

    def except_where(self, condition: BoolSeries) -> EventFrame:
        """The rows where ``condition`` is false or null."""
        cond = _node(condition)
        keep = m.Case(((cond, m.Value(False)),), m.Value(True))
        return EventFrame(m.Filter(self.node, keep))

    def sort_by(self, *keys: Series) -> SortedEventFrame:
        """Rows ordered by ``keys`` (nulls first), to pick the first or last per person."""
        return SortedEventFrame(m.Sort(self.node, tuple(_node(k) for k in keys)))

    def count_for_person(self) -> IntSeries:
        """How many rows each person has (0 for none)."""
        return wrap(m.AggregateFrame(self.node, m.Aggregate.COUNT))  # type: ignore[return-value]

    def exists_for_person(self) -> BoolSeries:
        """Whether each person has at least one row."""
        return wrap(m.AggregateFrame(self.node, m.Aggregate.EXISTS))  # type: ignore[return-value]


class SortedEventFrame(EventFrame):
    def first_for_person(self) -> PersonFrame:
        return PersonFrame(m.PickOne(self.node, m.Position.FIRST))  # type: ignore[arg-type]

    def last_for_person(self) -> PersonFrame:
        return PersonFrame(m.PickOne(self.node, m.Position.LAST))  # type: ignore[arg-type]


class PersonFrame(_Frame):
    """At most one row per person."""

    def where(self, condition: BoolSeries | bool) -> PersonFrame:
        return PersonFrame(m.Filter(self.node, _node(condition)))

    def exists_for_person(self) -> BoolSeries:
        """Whether each person has a row."""
        node = self.node
        if isinstance(node, m.PickOne):
            return wrap(m.AggregateFrame(node.source, m.Aggregate.EXISTS))  # type: ignore[return-value]
        raise DefinitionError(
            f"exists_for_person() on {node.describe()}: test one of its columns with "
            ".is_not_null() instead"
        )


def table(schema: m.TableSchema) -> EventFrame | PersonFrame:
    node = m.SelectTable(schema)
    return EventFrame(node) if schema.kind is m.Kind.EVENT else PersonFrame(node)


# ------------------------------------------------------------------------------- dataset


LINKS = ("accepted", "possible", "all")


class Dataset:
    """The dataset a definition builds: ``define_population`` and one attribute per
    column (``dataset.age = ...``)."""

    def __init__(self) -> None:
        object.__setattr__(self, "_population", None)
        object.__setattr__(self, "_columns", {})
        object.__setattr__(self, "_links", "accepted")

    def define_population(self, condition: BoolSeries) -> None:
        """Who is in the dataset: one true or false per person."""
        node = _node(condition)
        m.check_population(node)
        object.__setattr__(self, "_population", node)

    def configure(self, *, links: str = "accepted") -> None:
        """Which links count: ``accepted`` (the default: DET_STRONG_ID, DET_DEMOG,
        PROB_ACCEPT), ``possible`` (adds PROB_POSSIBLE, for sensitivity analysis) or
        ``all``."""
        if links not in LINKS:
            raise DefinitionError(f"links={links!r}; use one of {', '.join(LINKS)}")
        object.__setattr__(self, "_links", links)

    def __setattr__(self, name: str, value: object) -> None:
        if not isinstance(value, Series):
            raise DefinitionError(
                f"column {name!r} must be a series built from a table, not {value!r}"
            )
        m.check_column(name, value.node)
        columns: dict[str, m.Series] = object.__getattribute__(self, "_columns")
        if name in columns:
            raise DefinitionError(f"column {name!r} is defined twice")
        columns[name] = value.node

    def __getattr__(self, name: str) -> Series:
        columns: dict[str, m.Series] = object.__getattribute__(self, "_columns")
        if name in columns:
            return wrap(columns[name])
        raise AttributeError(f"the dataset has no column {name!r}")

    @property
    def links(self) -> str:
        links: str = object.__getattribute__(self, "_links")
        return links

    def to_model(self) -> m.Dataset:
        pop: m.Series | None = object.__getattribute__(self, "_population")
        if pop is None:
            raise DefinitionError(
                "the dataset has no population",
                fix="call dataset.define_population(...) with a true/false per person",
            )
        cols: dict[str, m.Series] = object.__getattribute__(self, "_columns")
        return m.Dataset(pop, tuple(cols.items()), links=self.links)


def create_dataset() -> Dataset:
    return Dataset()
