"""A pytest plugin that counts the examples every ``fuzz``-marked test ran.

Hypothesis reports each test's run statistics (every example it tried, by phase, with
its status and the ``event()`` calls it made) to ``hypothesis.statistics.collector``
while its pytest plugin runs the test. This plugin listens there too and writes, at the
end of the session, ``test-artifacts/fuzz/cases.json`` (or under ``FJDP_TEST_ARTIFACTS``)::

    {"tests": {"<test id>": {"examples": 120, "valid": 118, "invalid": 2, "failing": 0,
                             "accepted": 40, "refused": 78, "refused_by": {...},
                             "phases": {"generate": 110, "reuse": 10}, "seconds": 3.2}},
     "total": {...}, "scale": 1.0}

``valid`` examples ran the test body to the end, ``invalid`` ones were rejected by a
strategy or ``assume`` before the parser saw them, ``failing`` ones failed the test
(Hypothesis then shrinks them); ``accepted``/``refused`` are what the parser did with the
valid ones (``tests/lib/fuzz.py``). The terminal summary gets one line with the totals.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from hypothesis.statistics import collector

from lib.fuzz import ACCEPTED, REFUSED, scale

REPO = Path(__file__).resolve().parents[2]
_REFUSED_BY = re.compile(re.escape(REFUSED) + r" \((\w+)\)")


def _summarise(stats: dict[str, Any]) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    refused_by: Counter[str] = Counter()
    phases: dict[str, int] = {}
    for key, phase in stats.items():
        if not key.endswith("-phase") or not isinstance(phase, dict):
            continue
        cases = phase.get("test-cases", [])
        if cases:
            phases[key.removesuffix("-phase")] = len(cases)
        for case in cases:
            statuses[str(case.get("status"))] += 1
            for ev in case.get("events", []):
                if str(ev).startswith(ACCEPTED):
                    outcomes["accepted"] += 1
                elif m := _REFUSED_BY.match(str(ev)):
                    outcomes["refused"] += 1
                    refused_by[m.group(1)] += 1
    return {
        "examples": sum(phases.values()),
        "valid": statuses["valid"],
        "invalid": statuses["invalid"] + statuses["overrun"],
        "failing": statuses["interesting"],
        "accepted": outcomes["accepted"],
        "refused": outcomes["refused"],
        "refused_by": dict(sorted(refused_by.items())),
        "phases": phases,
    }


class FuzzStats:
    def __init__(self) -> None:
        self.tests: dict[str, dict[str, Any]] = {}

    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        # trylast: inside Hypothesis's own wrapper, whose collector this one chains to.
        if item.get_closest_marker("fuzz") is None:
            yield
            return
        outer = collector.value
        seen: list[dict[str, Any]] = []

        def note(stats: dict[str, Any]) -> None:
            seen.append(stats)
            if outer is not None:
                outer(stats)

        start = time.perf_counter()
        with collector.with_value(note):
            yield
        if seen:
            summary = _summarise(seen[-1])
            summary["seconds"] = round(time.perf_counter() - start, 2)
            self.tests[item.nodeid] = summary

    def total(self) -> dict[str, int]:
        keys = ("examples", "valid", "invalid", "failing", "accepted", "refused")
        return {k: sum(t[k] for t in self.tests.values()) for k in keys}

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.tests:
            return
        root = Path(os.environ.get("FJDP_TEST_ARTIFACTS") or REPO / "test-artifacts")
        out = root / "fuzz" / "cases.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        doc = {"scale": scale(), "total": self.total(), "tests": self.tests}
        out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        self.written = out

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.tests:
            return
        t = self.total()
        if "fuzz" in (terminalreporter.config.option.markexpr or ""):  # make test-fuzz
            terminalreporter.section("fuzz cases")
            for nodeid, c in self.tests.items():
                terminalreporter.write_line(
                    f"{c['examples']:>6,} examples {c['accepted']:>5,} accepted "
                    f"{c['refused']:>6,} refused {c['seconds']:>7.1f} s  {nodeid.split('/')[-1]}"
                )
        terminalreporter.write_line(
            f"fuzz: {t['examples']:,} examples in {len(self.tests)} tests "
            f"({t['accepted']:,} accepted, {t['refused']:,} refused with a clear error, "
            f"{t['invalid']:,} rejected by strategies, {t['failing']:,} failing; "
            f"scale {scale():g}); per test: {getattr(self, 'written', 'cases.json')}"
        )
