"""Analysis inside a project workspace. Dataset definitions: a population and columns,
one value per person, declared in Python and run on a workspace (DuckDB, or Spark for
scale) or on dummy data; and :mod:`.measures`, the family-justice measures library.

What a definition file imports::

    from fjdp.analysis import create_dataset, codelist, case, when, days, months, years
    from fjdp.analysis.tables import court_public, hospital_admissions, demographics

See ``docs/analysis.md``. Layers: :mod:`.language` (this API) builds :mod:`.model`
(an immutable, validated graph), which :mod:`.serialise` writes as JSON and
:mod:`.ibis_compile` turns into Ibis expressions that :mod:`.engines` run;
:mod:`.loader` runs a definition file in its own process; :mod:`.tables` makes the
tables from specs; :mod:`.dummy` makes dummy data.
"""

from __future__ import annotations

from fjdp.analysis.language import (
    BoolSeries,
    Codelist,
    Dataset,
    DateSeries,
    EventFrame,
    FloatSeries,
    IntSeries,
    PersonFrame,
    StrSeries,
    case,
    codelist,
    create_dataset,
    days,
    maximum_of,
    months,
    when,
    years,
)
from fjdp.analysis.model import DefinitionError

__all__ = [
    "BoolSeries",
    "Codelist",
    "Dataset",
    "DateSeries",
    "DefinitionError",
    "EventFrame",
    "FloatSeries",
    "IntSeries",
    "PersonFrame",
    "StrSeries",
    "case",
    "codelist",
    "create_dataset",
    "days",
    "maximum_of",
    "months",
    "when",
    "years",
]
