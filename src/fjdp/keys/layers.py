"""The HMAC pseudonym layers of DESIGN.md 5, computed inside DuckDB.

``ALF_E = HMAC-SHA256(K_bank, ALF)`` and ``ALF_PE = HMAC-SHA256(K_project, ALF_E)`` are
computed for millions of rows at a time, so they are written as SQL over DuckDB's
``sha256``: HMAC is ``H((K xor opad) || H((K xor ipad) || m))`` (RFC 2104), and DuckDB runs
it vectorised on every core without moving the values into Python. ``hmac_hex`` is the
same function in Python, used by tests to check the SQL and for single values.

Values are lower-case hex, as the TTP's ALF is, so every layer has the same shape.
"""

from __future__ import annotations

import hashlib
import hmac

_BLOCK = 64  # SHA-256 block size in bytes


def hmac_hex(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _pads(key: bytes) -> tuple[str, str]:
    if len(key) > _BLOCK:  # RFC 2104: long keys are hashed first
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = bytes(b ^ 0x36 for b in key)
    outer = bytes(b ^ 0x5C for b in key)
    return inner.hex(), outer.hex()


def hmac_sql(key: bytes, expr: str) -> str:
    """A DuckDB expression giving ``HMAC-SHA256(key, expr)`` as hex; NULL stays NULL.

    The key appears in the SQL text only as its two pads; the text is never logged or
    stored (DuckDB's query profiler is off by default)."""
    inner, outer = _pads(key)
    return f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || encode({expr}))))"
