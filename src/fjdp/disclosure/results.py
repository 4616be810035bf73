"""Checked outputs written in ACRO's results.json layout, so SACRO-Viewer can open them.

The folder holds ``results.json`` and, per output, ``output_N_0.csv`` (the protected
table) and any figure files, plus ``checksums/NAME.txt`` with each file's SHA-256,
as ACRO writes them. fjdp's own fields (the status before mitigation, the policy
version, the population, the mitigations) travel in each output's ``properties``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from fjdp import __version__
from fjdp.disclosure.policy import Policy
from fjdp.disclosure.record import CheckedOutput, Status

_TYPES = {
    "crosstab": "table",
    "pivot_table": "table",
    "ols": "regression",
    "logit": "regression",
    "poisson": "regression",
    "survival": "survival table",
    "histogram": "table",
}


def _summary(out: CheckedOutput) -> str:
    head = out.status.value
    problems = [r for r in out.reasons if r not in out.mitigations]
    text = head + ("; " + "; ".join(problems) if problems else "")
    return text


def _outcome(out: CheckedOutput) -> dict[str, dict[str, str]]:
    """ACRO's outcome frame as JSON: column -> row -> 'ok' or the reasons."""
    table = out.table
    cells: dict[tuple[str, str], str] = {}
    for cell in out.flagged_cells:
        key = (_key(cell.row), _key(cell.col))
        cells[key] = (cells[key] + "; " if key in cells else "") + cell.reason
    outcome: dict[str, dict[str, str]] = {}
    for col in table.columns:
        ckey = _key(col if isinstance(col, list) else [col])
        outcome[ckey] = {}
        for row in table.index:
            rkey = _key(row if isinstance(row, list) else [row])
            outcome[ckey][rkey] = cells.get((rkey, ckey), "ok")
    return outcome


def _key(parts: Any) -> str:
    return " / ".join(str(p) for p in parts) if isinstance(parts, list | tuple) else str(parts)


def _sdc(out: CheckedOutput) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "suppressed": any(m.startswith("suppressed") for m in out.mitigations)
    }
    cells: dict[str, list[list[int]]] = {}
    rows = [_key(r if isinstance(r, list) else [r]) for r in out.table.index]
    cols = [_key(c if isinstance(c, list) else [c]) for c in out.table.columns]
    for cell in out.flagged_cells:
        kind = cell.reason.split(":", 1)[0]
        summary[kind] = summary.get(kind, 0) + 1
        r, c = _key(cell.row), _key(cell.col)
        if r in rows and c in cols:
            cells.setdefault(kind, []).append([rows.index(r), cols.index(c)])
    return {"summary": summary, "cells": cells}


def write_results(
    outputs: list[CheckedOutput],
    folder: Path,
    files: dict[int, list[Path]] | None = None,
    policy: Policy | None = None,
) -> Path:
    """Write ``outputs`` into ``folder`` as ACRO does; return the results.json path."""
    folder.mkdir(parents=True, exist_ok=True)
    files = files or {}
    results: dict[str, Any] = {}
    for n, out in enumerate(outputs):
        uid = f"output_{n}"
        names = [f"{uid}_0.csv"]
        _write_csv(out, folder / names[0])
        for extra in files.get(n, []):
            if policy is not None and not policy.is_releasable(extra.name):
                continue
            shutil.copy(extra, folder / extra.name)
            names.append(extra.name)
        sdc = _sdc(out)
        results[uid] = {
            "uid": uid,
            "status": out.status.value,
            "type": _TYPES.get(out.operation, "custom"),
            "properties": {
                **out.properties,
                "status_before_mitigation": out.status_before.value,
                "mitigations": out.mitigations,
                "policy_version": out.policy_version,
                "population": out.population,
                "checksum": out.checksum,
            },
            "files": [{"name": name, "sdc": sdc} for name in names],
            "outcome": _outcome(out),
            "command": out.command,
            "summary": _summary(out),
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
            "comments": [],
            "exception": (
                "; ".join(out.mitigations)
                if out.status is Status.REVIEW and out.mitigations
                else ""
            ),
        }
    doc = {"version": f"fjdp-{__version__}", "results": results}
    path = folder / "results.json"
    path.write_text(json.dumps(doc, indent=4, default=str), "utf-8")
    _write_checksums(folder)
    return path


def _write_csv(out: CheckedOutput, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", *[_key(c) for c in out.table.columns]])
        for label, row in zip(out.table.index, out.table.data, strict=True):
            writer.writerow([_key(label), *["" if v is None else v for v in row]])


def _write_checksums(folder: Path) -> None:
    sums = folder / "checksums"
    sums.mkdir(exist_ok=True)
    for item in folder.iterdir():
        if item.is_file():
            digest = hashlib.sha256(item.read_bytes()).hexdigest()
            (sums / f"{item.name}.txt").write_text(digest, "utf-8")
