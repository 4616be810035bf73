"""Anonymised linking fields: ALF for the person, RALF for the address.

``ALF = HMAC-SHA256(K_ttp, person_id)`` and ``RALF = HMAC-SHA256(K_ttp, address_id)``,
each with its own label so a person id and an address id never give the same value.
The key never leaves the TTP zone; a different TTP key gives unrelated values.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import pyarrow as pa


def _mac(key: bytes, label: str, value: str) -> str:
    return hmac.new(key, f"{label}:{value}".encode(), hashlib.sha256).hexdigest()


def alf(key: bytes, person_id: str) -> str:
    return _mac(key, "person", person_id)


def ralf(key: bytes, address_id: str) -> str:
    return _mac(key, "address", address_id)


def alf_table(key: bytes, person_ids: Iterable[str], address_ids: Iterable[str | None]) -> pa.Table:
    """``pid, alf, ralf`` for each distinct spine person linked in a run."""
    pids = list(person_ids)
    addrs = list(address_ids)
    return pa.table(
        {
            "pid": pa.array(pids, type=pa.string()),
            "alf": pa.array([alf(key, p) for p in pids], type=pa.string()),
            "ralf": pa.array(
                [None if a is None else ralf(key, a) for a in addrs], type=pa.string()
            ),
        }
    )
