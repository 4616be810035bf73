"""Any single flipped byte anywhere in an envelope is refused, never decrypted to wrong data."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fjdp.errors import RefusedError
from fjdp.keys import ZoneKeys, init_zone
from fjdp.transfer import open_envelope, seal_file
from fjdp.types import Zone
from lib.fuzz import fuzz_settings, refused

pytestmark = pytest.mark.fuzz


@pytest.fixture(scope="module")
def ttp(tmp_path_factory: pytest.TempPathFactory) -> ZoneKeys:
    return init_zone(tmp_path_factory.mktemp("zones") / "ttp", Zone.TTP, actor="tester")


@fuzz_settings(60)
@given(
    size=st.integers(min_value=0, max_value=200_000),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    data=st.data(),
)
def test_a_flipped_byte_is_always_refused(
    ttp: ZoneKeys, size: int, seed: int, data: st.DataObject
) -> None:
    # Plaintext comes from a seeded generator: Hypothesis would be slow drawing 200 KB.
    plaintext = random.Random(seed).randbytes(size)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "plain").write_bytes(plaintext)
        env = root / "plain.env"
        seal_file(root / "plain", env, ttp.card)
        envelope = bytearray(env.read_bytes())
        position = data.draw(st.integers(0, len(envelope) - 1), label="position")
        mask = data.draw(st.integers(1, 255), label="mask")
        envelope[position] ^= mask
        env.write_bytes(bytes(envelope))

        out = root / "out"
        with pytest.raises(RefusedError) as caught:
            open_envelope(env, out, ttp)
        refused(caught.value, naming=env)
        assert not out.exists()
        assert sorted(p.name for p in root.iterdir()) == ["plain", "plain.env"]
