"""Reading SPEC.json files: what the fuzz tests found the reader mishandled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fjdp.disclosure import default_policy
from fjdp.disclosure.spec import check_spec_file
from fjdp.errors import InputError


@pytest.mark.parametrize(
    "spec",
    [
        {"data": "da\x00ta.csv", "operation": "crosstab", "index": ["a"]},
        {"data": "data.csv", "operation": "crosstab", "index": ["a"], "released": ["x\x00.json"]},
    ],
)
def test_a_path_with_a_nul_byte_names_no_file(tmp_path: Path, spec: dict[str, object]) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    path = tmp_path / "SPEC.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(InputError, match="which does not exist") as caught:
        check_spec_file(path, default_policy())
    assert str(path) in caught.value.message()
