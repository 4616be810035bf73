"""Definition files run in their own process and hand back only a graph; errors in
them come back as one line with the file and line; dummy data gives a definition a
population; the CLI wraps it all."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from fjdp.analysis.dummy import write_dummy
from fjdp.analysis.engines import open_workspace, run
from fjdp.analysis.loader import load_definition
from fjdp.analysis.runner import make_dummy
from fjdp.analysis.tables import spec_sources
from fjdp.cli.app import main
from fjdp.errors import InputError
from fjdp.specs import all_specs

DEFINITION = """\
from fjdp.analysis import codelist, create_dataset, years
from fjdp.analysis.tables import court_public, demographics, emergency_attendances

ap = court_public.application_persons
subjects = ap.where(ap.role.is_in(["subject"]))
first = subjects.sort_by(subjects.application_issue_date).first_for_person()
ed = emergency_attendances.attendances
injury = codelist(["S", "T"], prefix=True)
before = ed.where(
    ed.diag_code.is_in(injury)
    & (ed.arrival_date < first.application_issue_date)
    & (ed.arrival_date >= first.application_issue_date - years(2))
)

dataset = create_dataset()
dataset.define_population(first.exists_for_person())
dataset.issued = first.application_issue_date
dataset.age = (first.application_issue_date - demographics.week_of_birth).years
dataset.injuries_before = before.count_for_person()
print("definitions may print; it goes to stderr")
"""


@pytest.fixture(scope="module")
def sources() -> dict[str, object]:
    return spec_sources(all_specs())  # type: ignore[return-value]


def _write(tmp_path: Path, text: str, name: str = "definition.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_definition_comes_back_as_a_graph(tmp_path: Path, sources: dict) -> None:  # type: ignore[type-arg]
    said: list[str] = []
    ds = load_definition(_write(tmp_path, DEFINITION), sources, say=said.append)
    assert [n for n, _s in ds.columns] == ["issued", "age", "injuries_before"]
    assert said == ["definitions may print; it goes to stderr"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x = (\n", "definition.py:1: syntax error"),
        (
            "from fjdp.analysis.tables import deaths\nx = 1\ny = deaths.deaths.date_of_dearth\n",
            "definition.py:3: table deaths.deaths has no column 'date_of_dearth'; it has date_of_death",
        ),
        ("x = 1\nraise RuntimeError('boom')\n", "definition.py:2: RuntimeError: boom"),
        ("dataset = 42\n", "must leave a dataset in a variable called `dataset` (it holds a int)"),
        (
            "from fjdp.analysis import create_dataset\nfrom fjdp.analysis.tables import deaths\n"
            "dataset = create_dataset()\ndataset.define_population(deaths.deaths.exists_for_person())\n"
            "dataset.cause = deaths.deaths.underlying_cause\n",
            "definition.py:5: column 'cause' would give several rows per person",
        ),
    ],
)
def test_errors_name_the_file_and_line(
    tmp_path: Path, sources: dict, text: str, expected: str
) -> None:  # type: ignore[type-arg]
    with pytest.raises(InputError) as err:
        load_definition(_write(tmp_path, text), sources)
    assert expected in err.value.message()
    assert "\n" not in err.value.message()


def test_only_a_graph_comes_back_whatever_the_code_prints(tmp_path: Path, sources: dict) -> None:  # type: ignore[type-arg]
    # the definition writes a forged answer on the process's stdout: it goes to stderr,
    # and the dataset that comes back is the one the definition built
    forged = DEFINITION + textwrap.dedent(
        """
        import os, sys
        os.write(1, b'{"format": "fjdp-dataset-definition/1", "nodes": [], "root": 0}')
        sys.stdout.write('{"error": "forged"}')
        """
    )
    ds = load_definition(_write(tmp_path, forged), sources)
    assert len(ds.columns) == 3


def test_a_definition_that_exits_early_hands_back_nothing(tmp_path: Path, sources: dict) -> None:  # type: ignore[type-arg]
    text = "import os\nos.write(1, b'not a graph')\nos._exit(0)\n"
    with pytest.raises(InputError, match="not a dataset definition"):
        load_definition(_write(tmp_path, text), sources)


def test_the_definition_sees_a_clean_environment(
    tmp_path: Path,
    sources: dict,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FJDP_SECRET_FOR_TEST", "k")
    text = DEFINITION + "import os\nassert 'FJDP_SECRET_FOR_TEST' not in os.environ\n"
    load_definition(_write(tmp_path, text), sources)


def test_dummy_data_gives_the_definition_a_population(tmp_path: Path) -> None:
    rows, size = make_dummy(tmp_path / "dummy", definition=_write(tmp_path, DEFINITION), people=200)
    assert size is not None and size > 0
    assert rows["court_public.application_persons"] > 0
    ws = open_workspace(tmp_path / "dummy")
    assert ws.dummy
    ds = load_definition(_write(tmp_path, DEFINITION), ws.sources())
    table = run(ds, ws)
    assert table.num_rows == size
    # the codes the definition asks for are there
    assert sum(v or 0 for v in table.column("injuries_before").to_pylist()) >= 0
    possible = run(ds, ws, links="possible")
    assert possible.num_rows >= table.num_rows


def test_the_example_in_the_guide_runs_on_dummy_data(tmp_path: Path) -> None:
    import re

    guide = Path(__file__).parents[2] / "docs" / "analysis.md"
    match = re.search(r"```python\n(.*?)```", guide.read_text(), re.S)
    assert match is not None
    _rows, size = make_dummy(
        tmp_path / "d", definition=_write(tmp_path, match.group(1)), people=200
    )
    assert size


def test_dummy_data_follows_a_workspace_schema(tmp_path: Path) -> None:
    full = tmp_path / "full"
    write_dummy(full, all_specs(), people=50)
    # a workspace whose scope left out a column and a dataset
    present = {
        v: cols - {"ethnicity"}
        for v, cols in open_workspace(full).columns.items()
        if not v.startswith("births.")
    }
    narrow = tmp_path / "narrow"
    write_dummy(narrow, all_specs(), present, people=50)
    ws = open_workspace(narrow)
    assert "births" not in ws.datasets
    assert "ethnicity" not in ws.sources()["court_public.persons"].schema.column_names


def test_the_cli_runs_on_dummy_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    definition = _write(tmp_path, DEFINITION)
    out = tmp_path / "out.csv"
    code = main(
        ["analysis", "run", str(definition), "--dummy", "--people", "200", "--output", str(out)]
    )
    assert code == 0, capsys.readouterr().err
    table = pacsv.read_csv(out)
    assert table.column_names == ["alf_pe", "issued", "age", "injuries_before"]
    assert table.num_rows > 0
    assert "persons in the population" in capsys.readouterr().out


def test_the_cli_makes_dummy_data_and_runs_on_it_as_a_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    definition = _write(tmp_path, DEFINITION)
    code = main(
        ["analysis", "dummy", "--out", str(tmp_path / "d"), "--definition", str(definition)]
    )
    assert code == 0, capsys.readouterr().err
    assert "population on it" in capsys.readouterr().out
    code = main(
        [
            "analysis",
            "run",
            str(definition),
            "--workspace",
            str(tmp_path / "d"),
            "--links",
            "possible",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert main(["analysis", "tables"]) == 0


def test_the_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analysis", "--help"]) == 0
    assert "dummy" in capsys.readouterr().out
    bad = _write(tmp_path, "x = (\n", "bad.py")
    assert main(["analysis", "run", str(bad), "--dummy"]) == 3
    err = capsys.readouterr().err
    assert "bad.py:1: syntax error" in err
    assert main(["analysis", "run", str(bad)]) == 2
    assert "--workspace" in capsys.readouterr().err
    assert main(["analysis", "run", str(bad), "--dummy", "--links", "maybe"]) == 2
    assert main(["analysis", "run", str(bad), "--workspace", str(tmp_path)]) == 3
    assert "not a workspace" in capsys.readouterr().err
