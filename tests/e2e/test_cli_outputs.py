"""``fjdp outputs check SPEC.json``: one JSON verdict on stdout, exit 0 whatever it is;
a bad spec is one line on stderr naming the key or column and the spec file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fjdp.cli.app import main


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(7)
    n = 600
    df = pd.DataFrame(
        {
            "child": rng.integers(0, 450, n),
            "la": rng.choice(["A", "B", "C", "X"], n, p=[0.4, 0.4, 0.18, 0.02]),
            "year": rng.choice([2021, 2022], n),
            "sex": rng.choice(["F", "M"], n),
            "days": rng.gamma(2, 50, n).round(),
            "ended": rng.integers(0, 2, n),
            "age": rng.integers(0, 18, n),
        }
    )
    df["y"] = 2 * df["age"] + rng.normal(0, 3, n)
    df["order"] = (df["age"] + rng.normal(0, 4, n) > 9).astype(int)
    folder = tmp_path_factory.mktemp("outputs")
    df.to_csv(folder / "data.csv", index=False)
    return folder


def _run(
    folder: Path, spec: dict[str, Any], capsys: pytest.CaptureFixture[str], name: str = "spec.json"
) -> tuple[int, Any, str]:
    path = folder / name
    path.write_text(json.dumps(spec))
    code = main(["outputs", "check", str(path)])
    cap = capsys.readouterr()
    return code, (json.loads(cap.out) if code == 0 else None), cap.err


def _spec(**kw: Any) -> dict[str, Any]:
    return {"data": "data.csv", **kw}


def test_crosstab_with_a_small_cell_fails_unmitigated(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        data_dir, _spec(operation="crosstab", index=["la"], columns=["year"], margins=True), capsys
    )
    assert code == 0
    assert set(out) >= {"status", "reasons", "flagged_cells", "table", "policy_version"}
    assert out["status"] == "fail"
    assert out["table"]["index"][-1] == "All" and out["table"]["columns"][-1] == "All"
    assert any(c["row"] == ["X"] and "threshold" in c["reason"] for c in out["flagged_cells"])
    frame = pd.read_csv(data_dir / "data.csv")
    expected = pd.crosstab(frame["la"], frame["year"], margins=True)
    assert out["table"]["data"] == expected.to_numpy().tolist()


def test_crosstab_suppressed_goes_to_review_with_nulls(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for how in ("suppress", "suppress_round"):
        spec = _spec(
            operation="crosstab",
            index=["la"],
            columns=["year"],
            margins=True,
            mitigate=how,
            unit="child",
        )
        code, out, _ = _run(data_dir, spec, capsys)
        assert code == 0 and out["status"] == "review"
        x = out["table"]["index"].index("X")
        assert out["table"]["data"][x][:2] == [None, None]
        assert any("suppressed" in r for r in out["reasons"])


def test_pivot_table_mean_and_max(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(
        operation="pivot_table", index=["sex"], columns=["year"], values="days", aggfunc="mean"
    )
    code, out, _ = _run(data_dir, spec, capsys)
    assert code == 0 and out["status"] == "pass"
    spec["aggfunc"] = ["mean", "max"]
    code, out, _ = _run(data_dir, spec, capsys)
    assert out["status"] == "fail" and any("min/max" in r for r in out["reasons"])


def test_percentages(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(operation="crosstab", index=["sex"], columns=["year"], normalize="all")
    _, out, _ = _run(data_dir, spec, capsys)
    assert out["status"] == "pass"
    assert sum(sum(r) for r in out["table"]["data"]) == pytest.approx(1.0)


def test_regressions(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for op, y in (("ols", "y"), ("logit", "order")):
        code, out, _ = _run(data_dir, _spec(operation=op, y=y, x=["age"]), capsys)
        assert code == 0 and out["status"] == "pass"
        assert out["table"]["index"] == ["const", "age"] and out["table"]["columns"][0] == "coef"
    # Nine residual degrees of freedom: 11 rows, 2 parameters.
    small = pd.read_csv(data_dir / "data.csv").head(11)
    small.to_csv(data_dir / "small.csv", index=False)
    code, out, _ = _run(
        data_dir, {"data": "small.csv", "operation": "ols", "y": "y", "x": ["age"]}, capsys
    )
    assert out["status"] == "fail" and "degrees of freedom" in out["reasons"][0]


def test_survival(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(operation="survival", time="days", event="ended")
    code, out, _ = _run(data_dir, spec, capsys)
    assert code == 0 and out["status"] == "fail"
    spec["mitigate"] = "suppress_round"
    code, out, _ = _run(data_dir, spec, capsys)
    assert out["status"] == "review"
    assert all(r[0] >= 10 and r[1] >= 10 for r in out["table"]["data"])


def test_histogram(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(data_dir, _spec(operation="histogram", column="age", bins=10), capsys)
    assert code == 0 and out["status"] == "fail"
    code, out, _ = _run(
        data_dir, _spec(operation="histogram", column="age", bins=[0, 6, 12, 18]), capsys
    )
    assert out["status"] == "pass" and out["table"]["columns"] == ["count"]


def test_released_population_differing_by_a_few_is_review(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = _spec(operation="crosstab", index=["sex"], columns=["year"], unit="child")
    (data_dir / "released.json").write_text(json.dumps(base))
    spec = {**base, "filter": "la != 'X'", "released": ["released.json"]}
    code, out, _ = _run(data_dir, spec, capsys)
    assert code == 0 and out["status"] == "review"
    assert any("differencing" in r and "released.json" in r for r in out["reasons"])


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"data": "missing.csv", "operation": "crosstab"}, "'data'"),
        (_spec(operation="median_polish"), "'operation'"),
        (_spec(operation="crosstab", index=["nope"], columns=["year"]), "'nope'"),
        (
            _spec(operation="crosstab", index=["la"], columns=["year"], mitigate="blur"),
            "'mitigate'",
        ),
        (_spec(operation="crosstab", index=["la"], columns=["year"], filter="open('x')"), "filter"),
        (_spec(operation="ols", y="y", x=["ghost"]), "'ghost'"),
    ],
)
def test_bad_specs_are_one_line_errors(
    data_dir: Path, capsys: pytest.CaptureFixture[str], spec: dict[str, Any], needle: str
) -> None:
    code, _, err = _run(data_dir, spec, capsys, name="bad.json")
    assert code != 0
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err
    assert needle in lines[0] and "bad.json" in lines[0]


def test_a_missing_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outputs", "check", str(tmp_path / "none.json")]) == 3
    assert "spec file not found" in capsys.readouterr().err


def test_a_loosening_policy_is_refused_and_results_json_is_written(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = data_dir / "plain.json"
    spec.write_text(json.dumps(_spec(operation="crosstab", index=["sex"], columns=["year"])))
    loose = tmp_path / "loose.yaml"
    loose.write_text("threshold: 5\n")
    assert main(["outputs", "check", str(spec), "--policy", str(loose)]) == 7
    assert "loosens threshold 10 -> 5" in capsys.readouterr().err
    code = main(["outputs", "check", str(spec), "--policy", str(loose),
                 "--governance-decision", "GD-7", "--results", str(tmp_path / "out")])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["policy_version"].endswith("decision.GD-7")
    doc = json.loads((tmp_path / "out/results.json").read_text())
    assert doc["results"]["output_0"]["status"] == "pass"
