"""The query model: an immutable, self-validating graph of frames and series.

Every node is a frozen dataclass that checks itself when it is made, so a definition
that cannot run is refused where the researcher wrote it, before any data is touched:

- a *frame* is a table of rows: an event frame has any number of rows per person (a
  table of events, maybe filtered and sorted); a person frame has at most one row per
  person (a per-person table, or one row picked from an event frame);
- a *series* is one value per row of a frame. Its dimension is :data:`PERSON` (one value
  per person) or the event frame it comes from. Values of two different event frames
  cannot be combined row by row (their rows do not line up), unless one frame is
  the other filtered or sorted, whose rows are a subset of the other's;
- a dataset's population and columns must be person series: a column that would give
  several rows per person is an error naming the column.

Engines only execute this graph (:mod:`fjdp.analysis.ibis_compile`); the researcher's
API (:mod:`fjdp.analysis.language`) only builds it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from fjdp.errors import UsageError
from fjdp.types import LinkStatus

# A dataset definition that cannot run: the message names the column or table. It is
# fjdp's usage error (exit code 2): every user error class keeps its own exit code.
DefinitionError = UsageError


class Type(StrEnum):
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    DATE = "date"


NUMERIC = frozenset({Type.INT, Type.FLOAT})
ORDERED = frozenset({Type.INT, Type.FLOAT, Type.STR, Type.DATE})


class Kind(StrEnum):
    EVENT = "event"  # any number of rows per person
    PERSON = "person"  # at most one row per person


class DateUnit(StrEnum):
    DAYS = "days"
    MONTHS = "months"
    YEARS = "years"


# ---------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    type: Type
    codes: tuple[str, ...] | None = None  # the values a coded column may hold


@dataclass(frozen=True)
class TableSchema:
    """A table a definition may read: ``court_public.applications`` and its columns.
    Every table has one person per row (``alf_pe``); engines add the link status."""

    name: str
    kind: Kind
    columns: tuple[ColumnSchema, ...]

    def column(self, name: str) -> ColumnSchema:
        for c in self.columns:
            if c.name == name:
                return c
        raise DefinitionError(
            f"table {self.name} has no column {name!r}; it has {', '.join(self.column_names)}",
            fix="use one of those columns",
        )

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


# ---------------------------------------------------------------------------------- frames


class Frame:
    """Base of frame nodes."""

    @property
    def kind(self) -> Kind:
        raise NotImplementedError

    @property
    def table(self) -> TableSchema:
        raise NotImplementedError

    def describe(self) -> str:
        return self.table.name


@dataclass(frozen=True)
class SelectTable(Frame):
    schema: TableSchema

    @property
    def kind(self) -> Kind:
        return self.schema.kind

    @property
    def table(self) -> TableSchema:
        return self.schema


@dataclass(frozen=True)
class Filter(Frame):
    """The rows of ``source`` where ``condition`` is true (a null condition drops the row)."""

    source: Frame
    condition: Series

    def __post_init__(self) -> None:
        _need_type(self.condition, {Type.BOOL}, f"the condition of where() on {self.describe()}")
        _check_fits(self.condition, self.source, f"the condition of where() on {self.describe()}")

    @property
    def kind(self) -> Kind:
        return self.source.kind

    @property
    def table(self) -> TableSchema:
        return self.source.table


@dataclass(frozen=True)
class Sort(Frame):
    """``source`` ordered by ``keys`` (ascending, nulls first), for picking one row."""

    source: Frame
    keys: tuple[Series, ...]

    def __post_init__(self) -> None:
        if self.source.kind is not Kind.EVENT:
            raise DefinitionError(
                f"sort_by() on {self.describe()}, which has one row per person already",
                fix="sort an event table",
            )
        if not self.keys:
            raise DefinitionError(f"sort_by() on {self.describe()} needs at least one column")
        for k in self.keys:
            what = f"the sort key {k.describe()} of {self.describe()}"
            _need_type(k, ORDERED, what)
            _check_fits(k, self.source, what)

    @property
    def kind(self) -> Kind:
        return Kind.EVENT

    @property
    def table(self) -> TableSchema:
        return self.source.table


class Position(StrEnum):
    FIRST = "first"
    LAST = "last"


@dataclass(frozen=True)
class PickOne(Frame):
    """One row per person: the first or last row of a sorted event frame."""

    source: Sort
    position: Position

    def __post_init__(self) -> None:
        if not isinstance(self.source, Sort):
            raise DefinitionError(
                f"{self.position}_for_person() on {self.describe()} needs sort_by() first",
                fix=f"write .sort_by(<date column>).{self.position}_for_person()",
            )

    @property
    def kind(self) -> Kind:
        return Kind.PERSON

    @property
    def table(self) -> TableSchema:
        return self.source.table


# ---------------------------------------------------------------------------------- series


class Series:
    """Base of series nodes: each knows its type and which frame's rows it follows."""

    @property
    def type(self) -> Type:
        raise NotImplementedError

    @property
    def frame(self) -> Frame | None:
        """The event frame whose rows this series follows, or None for one value per
        person (or a constant)."""
        raise NotImplementedError

    @property
    def is_constant(self) -> bool:
        return False

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Column(Series):
    source: Frame
    name: str

    def __post_init__(self) -> None:
        self.source.table.column(self.name)  # raises naming the valid columns

    @property
    def type(self) -> Type:
        return self.source.table.column(self.name).type

    @property
    def frame(self) -> Frame | None:
        return self.source if self.source.kind is Kind.EVENT else None

    def describe(self) -> str:
        return f"{self.source.describe()}.{self.name}"


Literal = bool | int | float | str | dt.date


def type_of_value(value: object) -> Type:
    if isinstance(value, bool):
        return Type.BOOL
    if isinstance(value, int):
        return Type.INT
    if isinstance(value, float):
        return Type.FLOAT
    if isinstance(value, str):
        return Type.STR
    if isinstance(value, dt.datetime):
        raise DefinitionError(f"{value!r} is a date and time; give a date (datetime.date)")
    if isinstance(value, dt.date):
        return Type.DATE
    raise DefinitionError(
        f"{value!r} ({type(value).__name__}) cannot be used in a definition",
        fix="use a bool, int, float, str or datetime.date, or a column",
    )


@dataclass(frozen=True)
class Value(Series):
    value: Literal

    def __post_init__(self) -> None:
        type_of_value(self.value)

    @property
    def type(self) -> Type:
        return type_of_value(self.value)

    @property
    def frame(self) -> Frame | None:
        return None

    @property
    def is_constant(self) -> bool:
        return True

    def describe(self) -> str:
        return repr(self.value)


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    AND = "and"
    OR = "or"
    NOT = "not"
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    NEG = "neg"
    IS_NULL = "is_null"
    YEAR = "year"
    MONTH = "month"


_SYMBOL = {
    Op.EQ: "==",
    Op.NE: "!=",
    Op.LT: "<",
    Op.LE: "<=",
    Op.GT: ">",
    Op.GE: ">=",
    Op.AND: "&",
    Op.OR: "|",
    Op.ADD: "+",
    Op.SUB: "-",
    Op.MUL: "*",
}


def _common_frame(args: tuple[Series, ...], what: str) -> Frame | None:
    """The frame a row-wise combination of ``args`` follows: the deepest of their frames,
    when each of the others is it or one of its ancestors (a filter keeps a subset of
    its source's rows); otherwise their rows do not line up."""
    frames = [a.frame for a in args if a.frame is not None]
    deepest: Frame | None = None
    for f in frames:
        if deepest is None or _is_ancestor(deepest, f):
            deepest = f
        elif not _is_ancestor(f, deepest):
            raise DefinitionError(
                f"{what} combines rows of {deepest.describe()} and {f.describe()}, "
                "which do not line up",
                fix="reduce one of them to one value per person first "
                "(first_for_person, count_for_person, ...)",
            )
    return deepest


def _is_ancestor(a: Frame, b: Frame) -> bool:
    """Whether ``a`` is ``b`` or a frame ``b`` was filtered or sorted from."""
    node: Frame | None = b
    while node is not None:
        if node == a:
            return True
        node = node.source if isinstance(node, Filter | Sort) else None
    return False


def _check_fits(s: Series, frame: Frame, what: str) -> None:
    if s.frame is not None and not _is_ancestor(s.frame, frame):
        raise DefinitionError(
            f"{what} comes from {s.frame.describe()}, whose rows are not those of "
            f"{frame.describe()}",
            fix="use a column of the same table, or one value per person",
        )


def _need_type(s: Series, allowed: set[Type] | frozenset[Type], what: str) -> None:
    if s.type not in allowed:
        names = " or ".join(sorted(t.value for t in allowed))
        raise DefinitionError(
            f"{what} is {s.type.value} ({s.describe()}), not {names}",
            fix="check the column and the operation",
        )


@dataclass(frozen=True)
class Function(Series):
    op: Op
    args: tuple[Series, ...]
    _frame: Frame | None = field(init=False, repr=False, compare=False, default=None)
    _type: Type = field(init=False, repr=False, compare=False, default=Type.BOOL)

    ARITY: ClassVar[dict[Op, int]] = {Op.NOT: 1, Op.NEG: 1, Op.IS_NULL: 1, Op.YEAR: 1, Op.MONTH: 1}

    def __post_init__(self) -> None:
        want = self.ARITY.get(self.op, 2)
        if len(self.args) != want:
            raise DefinitionError(f"{self.op} takes {want} arguments, not {len(self.args)}")
        object.__setattr__(self, "_type", self._check_types())
        object.__setattr__(self, "_frame", _common_frame(self.args, self.describe()))

    def _check_types(self) -> Type:
        op, a = self.op, self.args
        ta = a[0].type
        if op in (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE):
            tb = a[1].type
            if not (ta == tb or {ta, tb} <= NUMERIC):
                raise DefinitionError(
                    f"{self.describe()} compares a {ta.value} with a {tb.value}",
                    fix="compare values of one type (a date with a date, e.g. "
                    "datetime.date(2020, 1, 1))",
                )
            if op not in (Op.EQ, Op.NE) and ta not in ORDERED:
                raise DefinitionError(f"{self.describe()}: {ta.value} values have no order")
            return Type.BOOL
        if op in (Op.AND, Op.OR, Op.NOT):
            for s in a:
                _need_type(s, {Type.BOOL}, f"an operand of {op.value}")
            return Type.BOOL
        if op is Op.IS_NULL:
            return Type.BOOL
        if op in (Op.YEAR, Op.MONTH):
            _need_type(a[0], {Type.DATE}, f"the argument of {op.value}")
            return Type.INT
        if op is Op.NEG:
            _need_type(a[0], NUMERIC, "the argument of -")
            return ta
        # ADD, SUB, MUL: numbers only; dates move with DateShift and differ with DateDiff
        tb = a[1].type
        for s in a:
            _need_type(s, NUMERIC, f"an operand of {_SYMBOL[op]} in {self.describe()}")
        return Type.FLOAT if Type.FLOAT in (ta, tb) else Type.INT

    @property
    def type(self) -> Type:
        return self._type

    @property
    def frame(self) -> Frame | None:
        return self._frame

    @property
    def is_constant(self) -> bool:
        return all(a.is_constant for a in self.args)

    def describe(self) -> str:
        if self.op in _SYMBOL:
            return f"({self.args[0].describe()} {_SYMBOL[self.op]} {self.args[1].describe()})"
        return f"{self.op.value}({', '.join(a.describe() for a in self.args)})"


@dataclass(frozen=True)
class IsIn(Series):
    """Whether the value is one of ``values`` (a code list), or, with ``prefix``, starts
    with one of them (ICD-10 codes: ``F1`` takes in F10 to F19)."""

    source: Series
    values: tuple[Literal, ...]
    prefix: bool = False

    def __post_init__(self) -> None:
        if not self.values:
            raise DefinitionError(f"is_in() on {self.source.describe()} has an empty code list")
        for v in self.values:
            tv = type_of_value(v)
            if tv != self.source.type and not {tv, self.source.type} <= NUMERIC:
                raise DefinitionError(
                    f"code {v!r} ({tv.value}) cannot match {self.source.describe()} "
                    f"({self.source.type.value})"
                )
        if self.prefix:
            _need_type(self.source, {Type.STR}, "starts_with() needs a text column; it")
        col = self.source
        if not self.prefix and isinstance(col, Column):
            codes = col.source.table.column(col.name).codes
            unknown = [v for v in self.values if codes is not None and v not in codes]
            if unknown:
                raise DefinitionError(
                    f"codes {unknown} are not values of {col.describe()}; "
                    f"it holds {', '.join(codes or ())}",
                    fix="check the code list",
                )

    @property
    def type(self) -> Type:
        return Type.BOOL

    @property
    def frame(self) -> Frame | None:
        return self.source.frame

    def describe(self) -> str:
        verb = "starts_with" if self.prefix else "is_in"
        return f"{self.source.describe()}.{verb}({list(self.values)})"


@dataclass(frozen=True)
class DateShift(Series):
    """``date`` moved by ``amount`` days, months or years (a month or year later lands
    on the same day of the month, or the month's last day)."""

    date: Series
    amount: Series
    unit: DateUnit

    def __post_init__(self) -> None:
        _need_type(self.date, {Type.DATE}, f"the date shifted by {self.unit.value}")
        _need_type(self.amount, {Type.INT}, f"the number of {self.unit.value}")
        _common_frame((self.date, self.amount), self.describe())

    @property
    def type(self) -> Type:
        return Type.DATE

    @property
    def frame(self) -> Frame | None:
        return _common_frame((self.date, self.amount), self.describe())

    def describe(self) -> str:
        return f"({self.date.describe()} + {self.amount.describe()} {self.unit.value})"


@dataclass(frozen=True)
class DateDiff(Series):
    """Whole days, months or years from ``start`` to ``end`` (negative when ``end`` is
    earlier); months and years count completed ones, as an age does."""

    end: Series
    start: Series
    unit: DateUnit

    def __post_init__(self) -> None:
        _need_type(self.end, {Type.DATE}, "the later date of a difference")
        _need_type(self.start, {Type.DATE}, "the earlier date of a difference")
        _common_frame((self.end, self.start), self.describe())

    @property
    def type(self) -> Type:
        return Type.INT

    @property
    def frame(self) -> Frame | None:
        return _common_frame((self.end, self.start), self.describe())

    def describe(self) -> str:
        return f"{self.unit.value}_between({self.start.describe()}, {self.end.describe()})"


@dataclass(frozen=True)
class Case(Series):
    """The value of the first ``when`` whose condition is true, else ``otherwise``."""

    cases: tuple[tuple[Series, Series], ...]
    otherwise: Series | None = None

    def __post_init__(self) -> None:
        if not self.cases:
            raise DefinitionError("case() needs at least one when(...).then(...)")
        types = {v.type for _c, v in self.cases}
        if self.otherwise is not None:
            types.add(self.otherwise.type)
        if len(types) > 1 and not types <= NUMERIC:
            raise DefinitionError(
                f"the values of case() mix types {sorted(t.value for t in types)}",
                fix="give every branch values of one type",
            )
        for c, _v in self.cases:
            _need_type(c, {Type.BOOL}, "a condition of when()")
        _common_frame(self._parts(), "case()")

    def _parts(self) -> tuple[Series, ...]:
        parts = [s for pair in self.cases for s in pair]
        if self.otherwise is not None:
            parts.append(self.otherwise)
        return tuple(parts)

    @property
    def type(self) -> Type:
        types = {v.type for _c, v in self.cases}
        if self.otherwise is not None:
            types.add(self.otherwise.type)
        return Type.FLOAT if len(types) > 1 else types.pop()

    @property
    def frame(self) -> Frame | None:
        return _common_frame(self._parts(), "case()")

    def describe(self) -> str:
        return (
            "case("
            + ", ".join(f"when {c.describe()} then {v.describe()}" for c, v in self.cases)
            + ")"
        )


class Aggregate(StrEnum):
    COUNT = "count"  # rows of a frame
    EXISTS = "exists"  # any row of a frame
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    COUNT_DISTINCT = "count_distinct"


@dataclass(frozen=True)
class AggregateFrame(Series):
    """Per person, how many rows an event frame has (0 when none) or whether it has any."""

    source: Frame
    func: Aggregate

    def __post_init__(self) -> None:
        if self.func not in (Aggregate.COUNT, Aggregate.EXISTS):
            raise DefinitionError(f"{self.func.value} applies to a column, not a table")
        if self.source.kind is not Kind.EVENT:
            raise DefinitionError(
                f"{self.func.value}_for_person() on {self.source.describe()}, which has at "
                "most one row per person",
                fix="use .exists_for_person() on the event table before picking a row",
            )

    @property
    def type(self) -> Type:
        return Type.INT if self.func is Aggregate.COUNT else Type.BOOL

    @property
    def frame(self) -> Frame | None:
        return None

    def describe(self) -> str:
        return f"{self.source.describe()}.{self.func.value}_for_person()"


@dataclass(frozen=True)
class AggregateSeries(Series):
    """Per person, the minimum, maximum, sum or number of distinct values of an event
    series (null for a person with no rows, 0 for a count)."""

    source: Series
    func: Aggregate

    def __post_init__(self) -> None:
        if self.func in (Aggregate.COUNT, Aggregate.EXISTS):
            raise DefinitionError(f"{self.func.value} applies to a table, not a column")
        if self.source.frame is None:
            raise DefinitionError(
                f"{self.func.value}_for_person() on {self.source.describe()}, which has "
                "one value per person already"
            )
        if self.func in (Aggregate.MIN, Aggregate.MAX):
            _need_type(self.source, ORDERED, f"{self.func.value}_for_person() of a column")
        if self.func is Aggregate.SUM:
            _need_type(self.source, NUMERIC, "sum_for_person() of a column")

    @property
    def type(self) -> Type:
        if self.func is Aggregate.COUNT_DISTINCT:
            return Type.INT
        return self.source.type

    @property
    def frame(self) -> Frame | None:
        return None

    def describe(self) -> str:
        return f"{self.source.describe()}.{self.func.value}_for_person()"


# ---------------------------------------------------------------------------------- dataset

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"

# Which link statuses count (DESIGN section 6): a person's rows of any other status are
# left out. None means every row, whatever its status.
_ACCEPTED = tuple(sorted(s.value for s in LinkStatus.default_included()))
LINK_SETS: dict[str, tuple[str, ...] | None] = {
    "accepted": _ACCEPTED,
    "possible": (*_ACCEPTED, LinkStatus.PROB_POSSIBLE.value),
    "all": None,
}


@dataclass(frozen=True)
class Dataset:
    """What a definition hands back: the population and the columns, one value per person."""

    population: Series
    columns: tuple[tuple[str, Series], ...]
    links: str = "accepted"  # accepted, possible (adds PROB_POSSIBLE) or all

    def __post_init__(self) -> None:
        if self.links not in LINK_SETS:
            raise DefinitionError(f"links={self.links!r}; use one of {', '.join(LINK_SETS)}")
        check_population(self.population)
        names = [n for n, _s in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DefinitionError(f"dataset columns {dupes} are defined twice")
        for name, s in self.columns:
            check_column(name, s)


def check_population(s: Series) -> None:
    if s.type is not Type.BOOL:
        raise DefinitionError(
            f"the population must be true or false for each person; "
            f"{s.describe()} is {s.type.value}"
        )
    if s.frame is not None:
        raise DefinitionError(
            f"the population would give several rows per person: it follows the rows of "
            f"{s.frame.describe()}",
            fix="use .exists_for_person() on the table, e.g. "
            "define_population(events.where(...).exists_for_person())",
        )
    if s.is_constant:
        raise DefinitionError(
            "the population is a constant; it must depend on some table",
            fix="e.g. define_population(court_public.application_persons.exists_for_person())",
        )


def check_column(name: str, s: Series) -> None:
    if not re.match(NAME_PATTERN, name) or name in RESERVED:
        raise DefinitionError(
            f"{name!r} cannot name a column",
            fix="use lower-case letters, digits and _, starting with a letter, not "
            + " or ".join(sorted(RESERVED)),
        )
    if not isinstance(s, Series):
        raise DefinitionError(f"column {name!r} is not a series but {type(s).__name__}")
    if s.frame is not None:
        raise DefinitionError(
            f"column {name!r} would give several rows per person: it follows the rows of "
            f"{s.frame.describe()}",
            fix="reduce it to one value per person with sort_by(...).first_for_person(), "
            "count_for_person(), exists_for_person(), min/max_for_person()",
        )


RESERVED = frozenset({"alf_pe", "population"})


def walk(node: object) -> list[object]:
    """Every node reachable from ``node`` (itself first), each once."""
    seen: dict[int, object] = {}
    order: list[object] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen[id(n)] = n
        order.append(n)
        stack.extend(reversed(children(n)))
    return order


def children(node: object) -> list[Any]:
    match node:
        case Dataset(population=p, columns=cols):
            return [p, *(s for _n, s in cols)]
        case Filter(source=src, condition=c):
            return [src, c]
        case Sort(source=src, keys=keys):
            return [src, *keys]
        case PickOne(source=src):
            return [src]
        case Column(source=src):
            return [src]
        case Function(args=args):
            return list(args)
        case IsIn(source=src):
            return [src]
        case DateShift(date=d, amount=a):
            return [d, a]
        case DateDiff(end=e, start=s):
            return [e, s]
        case Case(cases=cases, otherwise=o):
            return [x for pair in cases for x in pair] + ([o] if o is not None else [])
        case AggregateFrame(source=src) | AggregateSeries(source=src):
            return [src]
    return []


def tables_of(node: object) -> list[TableSchema]:
    """The tables a graph reads, in first-seen order."""
    out: dict[str, TableSchema] = {}
    for n in walk(node):
        if isinstance(n, SelectTable):
            out.setdefault(n.schema.name, n.schema)
    return list(out.values())
