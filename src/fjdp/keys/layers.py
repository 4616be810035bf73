"""The HMAC pseudonym layers of DESIGN.md 5.

``ALF_E = HMAC-SHA256(K_bank, ALF)`` and ``ALF_PE = HMAC-SHA256(K_project, ALF_E)``.
``hmac_sql`` writes HMAC as SQL over DuckDB's ``sha256``: ``H((K xor opad) || H((K xor
ipad) || m))`` (RFC 2104), for values computed row by row inside a query (a project's row
keys). Millions of distinct linking values at a time go through ``bulk`` instead, which is
five times faster. ``hmac_hex`` is the same function in Python, used by tests to check
both and for single values.

Values are lower-case hex, as the TTP's ALF is, so every layer has the same shape.
"""

from __future__ import annotations

import hashlib
import hmac

_BLOCK = 64  # SHA-256 block size in bytes


def hmac_hex(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def pads(key: bytes) -> tuple[bytes, bytes]:
    """RFC 2104's inner and outer pads of ``key``."""
    if len(key) > _BLOCK:  # RFC 2104: long keys are hashed first
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_sql(key: bytes, expr: str) -> str:
    """A DuckDB expression giving ``HMAC-SHA256(key, expr)`` as hex; NULL stays NULL.

    The key appears in the SQL text only as its two pads; the text is never logged or
    stored (DuckDB's query profiler is off by default)."""
    inner, outer = (p.hex() for p in pads(key))
    return f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || encode({expr}))))"
