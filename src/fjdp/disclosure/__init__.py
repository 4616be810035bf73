"""Disclosure control: the rules every released figure passes (DESIGN.md section 7).

The public API: :class:`Session` (checked tables, models, survival tables, histograms
and figures), :func:`default_policy` / :func:`project_policy`, :class:`Register` (the
differencing register), :class:`Status` and :class:`Mitigation`. They are imported on
first use, so that reports needing only :mod:`fjdp.disclosure.protect` stay light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CheckedOutput": "fjdp.disclosure.record",
    "Mitigation": "fjdp.disclosure.tables",
    "Policy": "fjdp.disclosure.policy",
    "Register": "fjdp.disclosure.register",
    "Session": "fjdp.disclosure.outputs",
    "Status": "fjdp.disclosure.record",
    "default_policy": "fjdp.disclosure.policy",
    "project_policy": "fjdp.disclosure.policy",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fjdp.disclosure' has no attribute {name!r}")
