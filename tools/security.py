"""`make security`: bandit on src/ and pip-audit on the installed environment, with the
results written to benchmarks/results/security.md.

- bandit runs with the configuration in pyproject.toml (``[tool.bandit]``: the skipped
  tests and why). Any finding fails the target.
- pip-audit asks PyPI's per-release JSON API for the known vulnerabilities of every
  installed distribution (fjdp itself, an editable install, is left out). A
  vulnerability fails the target. When the service answers for none of them (a
  registry mirror that serves only the package index, or no route to it), nothing was
  audited: the target says so plainly and, unless PIP_AUDIT_REQUIRED=1, does not fail,
  since nothing on the machine can be fixed to make it pass.

Exit status: 0 clean (or not audited), 1 bandit findings, 2 vulnerabilities, 3 not
audited with PIP_AUDIT_REQUIRED=1.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "security.md"
BIN = Path(sys.executable).parent

# Why each test skipped in [tool.bandit] is skipped (kept in step with pyproject.toml).
SKIPPED = {
    "B101": "assert: the asserts narrow types for mypy where earlier code has made sure; "
    "none is the only guard of a permission or of user input (ruff ignores S101 likewise)",
    "B608": "SQL built from strings: DuckDB SQL from spec-validated, quoted identifiers and "
    "quoted literals; ruff's S608 (`make check`) flags every new case outside the modules "
    "named in pyproject's per-file-ignores, each with its reason",
}


def run(cmd: list[str], *, quiet: bool = False) -> tuple[int, float]:
    """Run a scanner; ``quiet`` keeps its own summary off the terminal (pip-audit says
    "No known vulnerabilities found" even when it could audit nothing)."""
    start = time.perf_counter()
    sink = subprocess.DEVNULL if quiet else None
    proc = subprocess.run(
        cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, check=False
    )
    return proc.returncode, time.perf_counter() - start


def bandit(tmp: Path) -> tuple[list[dict[str, Any]], dict[str, Any], list[str], float]:
    report = tmp / "bandit.json"
    cmd = [str(BIN / "bandit"), "-c", "pyproject.toml", "-r", "src", "-q", "-f", "json"]
    _code, seconds = run([*cmd, "-o", str(report)])
    data = json.loads(report.read_text())
    nosec = [
        f"{path.relative_to(ROOT)}:{n}: {line.split('#', 1)[1].strip()}"
        for path in sorted((ROOT / "src").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"#\s*nosec\b", line)
    ]
    return data["results"], data["metrics"]["_totals"], nosec, seconds


def hidden_by_skips(tmp: Path) -> dict[str, int]:
    """How many findings each skipped test would report (for the record)."""
    report = tmp / "bandit-skipped.json"
    tests = ",".join(SKIPPED)
    run([str(BIN / "bandit"), "-r", "src", "-q", "-t", tests, "-f", "json", "-o", str(report)])
    counts = dict.fromkeys(SKIPPED, 0)
    for f in json.loads(report.read_text())["results"]:
        counts[f["test_id"]] = counts.get(f["test_id"], 0) + 1
    return counts


def pip_audit(tmp: Path) -> tuple[list[dict[str, Any]], int, float, str]:
    report = tmp / "pip-audit.json"
    cmd = [str(BIN / "pip-audit"), "-f", "json", "--progress-spinner", "off", "--skip-editable"]
    code, seconds = run([*cmd, "-o", str(report)], quiet=True)
    if not report.exists():
        return [], 0, seconds, f"pip-audit exited {code} without a report"
    deps = json.loads(report.read_text())["dependencies"]
    skipped = sum(1 for d in deps if "skip_reason" in d)
    return deps, skipped, seconds, ""


def main() -> int:
    configured = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["bandit"]["skips"]
    if set(configured) != set(SKIPPED):
        print(f"tools/security.py explains {sorted(SKIPPED)} but pyproject skips {configured}")
        return 1
    with tempfile.TemporaryDirectory(prefix="fjdp-security-") as t:
        tmp = Path(t)
        findings, totals, nosec, b_seconds = bandit(tmp)
        hidden = hidden_by_skips(tmp)
        deps, skipped, a_seconds, failure = pip_audit(tmp)

    vulns = [(d["name"], d["version"], v) for d in deps for v in d.get("vulns", [])]
    audited = len(deps) - skipped
    not_audited = bool(failure) or audited == 0
    lines = [
        "# Security scans",
        "",
        f"`make security`, {dt.date.today().isoformat()} (bandit {b_seconds:.0f} s, "
        f"pip-audit {a_seconds:.0f} s).",
        "",
        "## bandit (src/)",
        "",
        f"{totals['loc']:,} lines scanned; **{len(findings)} findings**; "
        f"{len(nosec)} lines marked `# nosec`.",
        "",
    ]
    for f in findings:
        lines.append(
            f"- {f['test_id']} {f['issue_severity']}/{f['issue_confidence']} "
            f"{f['filename']}:{f['line_number']}: {f['issue_text']}"
        )
    if findings:
        lines.append("")
    lines += ["Tests skipped in `[tool.bandit]` of pyproject.toml:", ""]
    lines += [f"- {k} ({hidden.get(k, 0)} places): {v}" for k, v in SKIPPED.items()]
    lines += ["", "Lines marked `# nosec`, each with its reason:", ""]
    lines += [f"- `{n}`" for n in nosec]
    lines += ["", "## pip-audit (the installed environment)", ""]
    if failure:
        lines.append(f"**Not audited**: {failure}.")
    elif not_audited:
        lines += [
            f"**Not audited**: the vulnerability service answered for none of the {len(deps)} "
            "installed distributions (each is reported as 'not found on PyPI'). pip-audit "
            "asks PyPI's per-release JSON API (`/pypi/NAME/VERSION/json`); the registry "
            "this machine reaches serves the package index but answers 404 there, and the "
            "OSV service (`pip-audit -s osv`) cannot be reached. Run `make security` where "
            "PyPI's JSON API is reachable to audit; PIP_AUDIT_REQUIRED=1 makes this a failure.",
        ]
    else:
        lines.append(
            f"{audited} distributions audited, {skipped} not found on PyPI; "
            f"**{len(vulns)} known vulnerabilities**."
        )
        lines += [
            f"- {n} {v}: {x['id']} (fixed in {', '.join(x['fix_versions']) or '-'})"
            for n, v, x in vulns
        ]
    OUT.write_text("\n".join(lines) + "\n")

    print(f"bandit: {len(findings)} findings in {totals['loc']:,} lines of src/")
    for f in findings:
        print(f"  {f['test_id']} {f['filename']}:{f['line_number']}: {f['issue_text']}")
    if not_audited:
        print(
            "pip-audit: NOT AUDITED - the vulnerability service answered for none of "
            f"{len(deps)} distributions ({failure or 'PyPI JSON API unreachable from here'}); "
            "see benchmarks/results/security.md"
        )
    else:
        print(f"pip-audit: {audited} distributions audited, {len(vulns)} known vulnerabilities")
        for n, v, x in vulns:
            print(f"  {n} {v}: {x['id']}")
    print(f"written: {OUT.relative_to(ROOT)}")
    if findings:
        return 1
    if vulns:
        return 2
    if not_audited and os.environ.get("PIP_AUDIT_REQUIRED") == "1":
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
