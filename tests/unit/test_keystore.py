"""The databank keystore: bank key versions, project keys, crypto-shredding."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fjdp.errors import InputError, RefusedError, UsageError
from fjdp.keys import init_zone
from fjdp.keys.keystore import BankKeystore, check_project_id
from fjdp.types import Zone


@pytest.fixture
def store(tmp_path: Path) -> BankKeystore:
    return BankKeystore.of(init_zone(tmp_path / "bank", Zone.DATABANK, actor="t"))


def test_bank_key_versions_chain_from_the_zone_key(store: BankKeystore) -> None:
    assert store.bank_versions() == [1]
    first = store.bank_key(1)
    store.new_bank_version(2)
    assert store.bank_versions() == [1, 2]
    assert store.bank_chain(2)[0] == first and store.bank_chain(2)[1] != first
    assert store.bank_chain(1) == [first]
    with pytest.raises(InputError, match="bank key version 3 is missing"):
        store.bank_key(3)


def test_a_project_key_is_created_once_private_and_reused(store: BankKeystore) -> None:
    with pytest.raises(InputError, match="never provisioned"):
        store.project_key("P1", create=False)
    key, created = store.project_key("P1", create=True)
    assert created and len(key) == 32
    again, created_again = store.project_key("P1", create=True)
    assert again == key and not created_again
    mode = stat.S_IMODE(store.project_key_path("P1").stat().st_mode)
    assert mode == 0o600
    assert store.project_key("P2", create=True)[0] != key


def test_destroying_a_project_key_is_final(store: BankKeystore) -> None:
    store.project_key("P1", create=True)
    store.destroy_project_key("P1", reason="ended")
    assert not store.project_key_path("P1").exists()
    assert store.is_revoked("P1")
    with pytest.raises(RefusedError, match="revoked"):
        store.project_key("P1", create=True)


@pytest.mark.parametrize("bad", ["", "../x", "a b", "x" * 65, "-lead", "P1/.."])
def test_project_ids_that_could_escape_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        check_project_id(bad)


def test_only_a_databank_has_a_keystore(tmp_path: Path) -> None:
    ttp = init_zone(tmp_path / "ttp", Zone.TTP, actor="t")
    with pytest.raises(RefusedError):
        BankKeystore.of(ttp)
