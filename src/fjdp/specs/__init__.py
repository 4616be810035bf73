"""Dataset specifications (YAML shipped in ``data/``, or a user's own file)."""

from fjdp.specs.model import (
    FILE3_COLUMNS,
    IDENTIFIER_FIELDS,
    ColumnSpec,
    ColumnType,
    DatasetSpec,
    Format,
    OnError,
    PersonGroup,
    Role,
    TableSpec,
)
from fjdp.specs.registry import all_specs, builtin_names, load_spec

__all__ = [
    "FILE3_COLUMNS",
    "IDENTIFIER_FIELDS",
    "ColumnSpec",
    "ColumnType",
    "DatasetSpec",
    "Format",
    "OnError",
    "PersonGroup",
    "Role",
    "TableSpec",
    "all_specs",
    "builtin_names",
    "load_spec",
]
