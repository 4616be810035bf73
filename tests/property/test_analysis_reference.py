"""For any small table of events, a definition run on DuckDB gives what a few lines of
plain Python give: link statuses, filters, counts, first/last picks and prefixes."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fjdp.analysis import create_dataset
from fjdp.analysis.engines import run
from lib.analysis import make_workspace, tables_of

STATUSES = ["DET_STRONG_ID", "DET_DEMOG", "PROB_ACCEPT", "PROB_POSSIBLE", "UNMATCHED"]
ACCEPTED = {"DET_STRONG_ID", "DET_DEMOG", "PROB_ACCEPT"}

rows = st.lists(
    st.fixed_dictionaries(
        {
            "alf_pe": st.sampled_from(["a", "b", "c", "d"]),
            "admission_date": st.dates(dt.date(2019, 1, 1), dt.date(2021, 12, 31)),
            "admission_method": st.sampled_from(["emergency", "elective"]),
            "diag_1": st.sampled_from(["F10", "F32", "S06", "X60"]),
            "link_status": st.sampled_from(STATUSES),
        }
    ),
    min_size=1,
    max_size=12,
)


def _expected(events: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    kept = [e for e in events if e["link_status"] in ACCEPTED]
    out: dict[str, tuple[Any, ...]] = {}
    for who in sorted({e["alf_pe"] for e in kept}):
        mine = [e for e in kept if e["alf_pe"] == who]
        first = min(mine, key=lambda e: (e["admission_date"], e["diag_1"]))
        last = max(mine, key=lambda e: (e["admission_date"], e["diag_1"]))
        out[who] = (
            sum(e["admission_method"] == "emergency" for e in mine),
            any(e["diag_1"].startswith("F") for e in mine),
            first["diag_1"],
            last["admission_date"],
        )
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_duckdb_agrees_with_plain_python(events: list[dict[str, Any]]) -> None:
    table = [
        {
            **e,
            "alf_pe": None if e["link_status"] == "UNMATCHED" else e["alf_pe"],
            "discharge_date": None,
            "diag_2": None,
            "diag_3": None,
            "week_of_birth": dt.date(1990, 1, 1),
            "sex": "F",
        }
        for e in events
    ]
    with tempfile.TemporaryDirectory() as tmp:
        ws = make_workspace(Path(tmp) / "w", {"hospital_admissions.admissions": table})
        adm = tables_of(ws)["hospital_admissions"].admissions  # type: ignore[attr-defined]
        d = create_dataset()
        d.define_population(adm.exists_for_person())
        d.emergencies = adm.where(adm.admission_method == "emergency").count_for_person()
        d.mental = adm.where(adm.diag_1.starts_with("F")).exists_for_person()
        d.first_diag = adm.sort_by(adm.admission_date, adm.diag_1).first_for_person().diag_1
        d.last_date = adm.sort_by(adm.admission_date, adm.diag_1).last_for_person().admission_date
        got = run(d.to_model(), ws)
    assert {r.pop("alf_pe"): tuple(r.values()) for r in got.to_pylist()} == _expected(events)
