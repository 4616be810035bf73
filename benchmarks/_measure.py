"""Running a benchmark step in a child process and measuring it: wall time and peak
resident memory (``ru_maxrss`` of exactly that child, from ``os.wait4``).

Each step runs in a fresh child so the parent stays small: on Linux a child's
``ru_maxrss`` starts from the resident size of the parent that spawned it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def memory_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        return None
    return None


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": memory_total_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_results(path: Path, runs: list[dict[str, Any]], **extra: Any) -> None:
    """The JSON record of a benchmark: when, on what machine, and its runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"measured": dt.datetime.now(dt.UTC).isoformat(), "machine": machine(), **extra}
    path.write_text(json.dumps(record | {"runs": runs}, indent=2) + "\n")


def child_env() -> dict[str, str]:
    """fjdp importable from src/ even without an install."""
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def run_child(script: Path, args: list[str], log: Path) -> dict[str, Any]:
    """Run ``script --child ARGS`` in a fresh process; seconds, exit code and peak RSS."""
    cmd = [sys.executable, str(script), "--child", *args]
    with log.open("ab") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=child_env(), stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    return {
        "returncode": os.waitstatus_to_exitcode(status),
        "seconds": round(seconds, 2),
        "peak_gib": round(usage.ru_maxrss / 1024**2, 3),
    }
