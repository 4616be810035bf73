"""What the fuzz tests share: how many examples to run, how to record each example's
outcome, and how to check that a refusal is one clear line and left nothing behind.

Every fuzz test (``tests/property/test_fuzz_*.py`` and the older parser properties) is
marked ``fuzz`` and takes its settings from :func:`fuzz_settings`, so one variable scales
them all: ``FJDP_FUZZ_SCALE=10`` runs ten times the default examples of every test (what
``make test-fuzz`` does). Each example records what happened with :func:`accepted` or
:func:`refused`; ``tests/lib/fuzzstats.py`` counts them into
``test-artifacts/fuzz/cases.json``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, event, settings

from fjdp.errors import UserError

SCALE_ENV = "FJDP_FUZZ_SCALE"
F = TypeVar("F", bound=Callable[..., Any])


def scale() -> float:
    """How many times the default number of examples to run (``FJDP_FUZZ_SCALE``)."""
    raw = os.environ.get(SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{SCALE_ENV}={raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{SCALE_ENV}={raw!r} must be positive")
    return value


def fuzz_settings(examples: int) -> Callable[[F], F]:
    """Hypothesis settings of a fuzz test: ``examples`` by default, times the scale.

    No deadline (the machine is shared), and the health checks that only say a test
    is slow or uses a module-scoped fixture are off: every example makes its own
    temporary files."""
    return settings(  # type: ignore[return-value]
        max_examples=max(1, round(examples * scale())),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
        ],
    )


ACCEPTED = "outcome: accepted"
REFUSED = "outcome: refused"


def accepted(detail: str = "") -> None:
    """Record that the parser accepted this example."""
    event(ACCEPTED + (f" ({detail})" if detail else ""))


def refused(exc: UserError, *, naming: str | Path | None = None) -> str:
    """Check a refusal is one line (naming ``naming`` when given) and record it."""
    message = exc.message()
    assert message, f"{type(exc).__name__} with an empty message"
    assert "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message, message
    if naming is not None:
        assert str(naming) in message, f"{message!r} does not name {naming}"
    event(f"{REFUSED} ({type(exc).__name__})")
    return message


def refused_as(kind: str) -> None:
    """Record a refusal that is not an exception (a form's errors, a BROKEN verdict)."""
    event(f"{REFUSED} ({kind})")


def snapshot(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its bytes (folders as ``/``),
    leaving out paths that start with one of ``skip`` (relative, POSIX style)."""
    out: dict[str, str] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(rel == s or rel.startswith(s.rstrip("/") + "/") for s in skip):
            continue
        if path.is_dir() and not path.is_symlink():
            out[rel] = "/"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@contextmanager
def unchanged(*roots: Path, skip: tuple[str, ...] = ()) -> Iterator[None]:
    """Assert the folders are byte for byte as they were when the body raised a user
    error (a refusal leaves no partial state). The body's other outcomes are its own."""
    before = [snapshot(r, skip=skip) for r in roots]
    try:
        yield
    except UserError:
        after = [snapshot(r, skip=skip) for r in roots]
        for root, b, a in zip(roots, before, after, strict=True):
            added = sorted(set(a) - set(b))
            removed = sorted(set(b) - set(a))
            changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
            assert not (added or removed or changed), (
                f"a refusal changed {root}: added {added}, removed {removed}, changed {changed}"
            )
        raise


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON-like document (dict keys and list indexes), the root
    ``()`` first: the places a mutation strategy may replace, remove or add a field."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += json_paths(v, (*prefix, i))
    return out
