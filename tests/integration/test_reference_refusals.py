"""``fjdp databank reference`` on lookups the fuzz tests found it mishandled: a refused
file leaves the databank zone as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from fjdp.databank.reference import import_reference
from fjdp.errors import InputError
from fjdp.keys import init_zone
from fjdp.types import Zone

HEADER = "lsoa_code,lsoa_name,local_authority,deprivation_decile\n"


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if "audit" not in p.parts)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (HEADER, "no rows"),
        (HEADER + "W01000001,A,Cardiff,11\n", "decile 1-10"),
        # ragged far past the rows DuckDB samples to learn the file's shape
        (
            HEADER + "".join(f"W0{i:08d},A,C,3\n" for i in range(30_000)) + "W1,A,C,3,extra,x\n",
            "cannot read",
        ),
    ],
)
def test_a_refused_lookup_leaves_the_zone_as_it_was(tmp_path: Path, text: str, words: str) -> None:
    zone = init_zone(tmp_path / "bank", Zone.DATABANK, actor="tester")
    source = tmp_path / "lookup.csv"
    source.write_text(text)
    before = _listing(zone.path)
    with pytest.raises(InputError, match=words) as caught:
        import_reference(zone, "lsoa_deprivation", source, actor="tester")
    assert str(source) in caught.value.message()
    assert _listing(zone.path) == before
