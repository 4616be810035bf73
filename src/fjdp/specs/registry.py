"""Finding specs: the ones shipped with fjdp, and any a user adds by file."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from fjdp.errors import InputError
from fjdp.specs.model import DatasetSpec


def _parse(text: str, where: str) -> DatasetSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise InputError(
            f"spec is not valid YAML{line}: {getattr(exc, 'problem', exc)}",
            where=where,
            fix="fix the YAML syntax",
        ) from None
    if not isinstance(data, dict):
        raise InputError("spec must be a YAML mapping with name, version, tables", where=where)
    try:
        return DatasetSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(
            f"spec is invalid at {loc or 'top level'}: {err['msg']}",
            where=where,
            fix="see docs/dataset-specs.md for the spec format",
        ) from None


def builtin_names() -> list[str]:
    folder = resources.files("fjdp.specs").joinpath("data")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_spec(name_or_path: str | Path) -> DatasetSpec:
    """A shipped spec by name, or a spec file by path (a user's own)."""
    text_path = Path(name_or_path)
    if text_path.suffix in (".yaml", ".yml") or text_path.exists():
        try:
            text = text_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                f"cannot read spec file: {exc.strerror or exc}", where=str(text_path)
            ) from None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"spec file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                f"{exc.start})",
                where=str(text_path),
                fix="save the spec as UTF-8",
            ) from None
        return _parse(text, str(text_path))
    name = str(name_or_path)
    if name not in builtin_names():
        raise InputError(
            f"no dataset spec called {name!r}",
            fix=f"use one of {', '.join(builtin_names())}, or give a spec file path",
        )
    text = resources.files("fjdp.specs").joinpath(f"data/{name}.yaml").read_text(encoding="utf-8")
    return _parse(text, f"fjdp/specs/data/{name}.yaml")


def all_specs() -> list[DatasetSpec]:
    return [load_spec(n) for n in builtin_names()]
