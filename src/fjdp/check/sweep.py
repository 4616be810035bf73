"""The checks that close a run of the whole flow (``fjdp demo``): every zone's audit
chain, and leak scans of the databank and of everything a researcher sees.

The databank may hold ALF_E but never an identifier or a raw ALF; a workspace, a
project's analysis folder and a release may hold ALF_PE only: no identifier, no raw
ALF and no ALF_E. Identifiers come from the world's provider extracts and spine, ALF_Es
from the databank's versions; raw ALFs exist on disk only inside sealed envelopes (the
databank shreds each File 3 once loaded), so the caller derives them at the TTP and
passes them in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fjdp.audit import verify_log
from fjdp.check.leaks import Identifiers, ScanResult, load_identifiers, load_pseudonyms, scan


@dataclass(frozen=True)
class CheckLine:
    check: str
    ok: bool
    detail: str


def audit_chains(zones: dict[str, Path]) -> list[CheckLine]:
    """One line per zone: its log's hash chain verified from the first event."""
    out = []
    for name, folder in zones.items():
        log = folder / "audit" / "log.jsonl"
        if not log.exists():
            out.append(CheckLine(f"audit chain: {name}", False, f"no audit log at {log}"))
            continue
        result = verify_log(log)
        detail = (
            f"{result.events:,} events"
            if result.ok
            else f"broken at event {result.first_bad_seq}: {result.reason}"
        )
        out.append(CheckLine(f"audit chain: {name}", result.ok, detail))
    return out


def _scan_line(label: str, folders: list[Path], ids: Identifiers) -> CheckLine:
    results: list[ScanResult] = [scan(f, ids) for f in folders if f.exists()]
    files = sum(r.files for r in results)
    findings = [f for r in results for f in r.findings]
    if not findings:
        return CheckLine(label, True, f"{files:,} files, nothing found")
    first = "; ".join(f.line() for f in findings[:3])
    more = f" and {len(findings) - 3} more" if len(findings) > 3 else ""
    return CheckLine(label, False, f"{len(findings)} found in {files:,} files: {first}{more}")


def leak_scans(
    *,
    world: Path,
    raw_alfs: set[str],
    databank: Path,
    researcher_folders: list[Path],
    say: Callable[[str], None] = lambda _m: None,
) -> list[CheckLine]:
    """Scan the databank for identifiers and raw ALFs, and the researcher's folders
    (workspace, analysis, releases) for identifiers, raw ALFs and ALF_Es."""
    say("checks: reading the identifiers of the world and the linking values")
    ids = load_identifiers([world])
    ids.add("alf", {a.upper() for a in raw_alfs})
    say("checks: scanning the databank")
    lines = [_scan_line("leak scan: databank (identifiers, raw ALF)", [databank], ids)]
    ids = load_pseudonyms([databank], ids)
    say("checks: scanning the workspace, analysis and releases")
    lines.append(
        _scan_line(
            "leak scan: workspace, analysis, releases (identifiers, ALF, ALF_E)",
            researcher_folders,
            ids,
        )
    )
    return lines
