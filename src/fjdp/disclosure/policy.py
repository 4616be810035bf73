"""The disclosure-control policy: one versioned file shipped with fjdp, tightened per project.

A project may make any rule stricter. Loosening one (a lower threshold, a higher
dominance k, releasing minima...) is refused unless the override names the recorded
governance decision that allowed it; the decision id then becomes part of the policy's
version, so every output says exactly which rules it was checked under.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from fjdp.errors import GovernanceError, InputError


class Policy(BaseModel):
    """Every number a check or a mitigation uses. Frozen: pass it, never mutate it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    threshold: int
    zeros_disclosive: bool
    dominance_n: int
    dominance_k: float
    p_percent: float
    min_residual_df: int
    min_contributors_summary: int
    allow_min_max: bool
    survival_per_time_point: bool
    rounding_base: int
    rate_rounding: str
    differencing_threshold: int
    releasable_types: tuple[str, ...]
    governance_decision: str | None = None

    def is_releasable(self, filename: str) -> bool:
        """Whether a file of this name may leave the environment at all."""
        ext = Path(filename).suffix.lower().lstrip(".")
        return ext in self.releasable_types


# For each field: True when a larger value is stricter, False when a smaller one is.
_STRICTER_IF_LARGER: dict[str, bool] = {
    "threshold": True,
    "dominance_n": True,
    "dominance_k": False,
    "p_percent": True,
    "min_residual_df": True,
    "min_contributors_summary": True,
    "rounding_base": True,
    "differencing_threshold": True,
}
# Booleans: the value that is the strict one.
_STRICT_BOOL: dict[str, bool] = {
    "zeros_disclosive": True,
    "allow_min_max": False,
    "survival_per_time_point": True,
}


def default_policy() -> Policy:
    """The policy shipped in the package (``fjdp/disclosure/data/policy.yaml``)."""
    text = resources.files("fjdp.disclosure").joinpath("data/policy.yaml").read_text("utf-8")
    return Policy.model_validate(yaml.safe_load(text))


def loosenings(base: Policy, override: Mapping[str, Any]) -> list[str]:
    """The rules an override makes less strict than ``base``, described in words."""
    found: list[str] = []
    for key, value in override.items():
        old = getattr(base, key)
        if key in _STRICTER_IF_LARGER:
            larger_is_strict = _STRICTER_IF_LARGER[key]
            if (value < old) if larger_is_strict else (value > old):
                found.append(f"{key} {old} -> {value}")
        elif key in _STRICT_BOOL:
            if old == _STRICT_BOOL[key] and value != old:
                found.append(f"{key} {old} -> {value}")
        elif key == "releasable_types":
            extra = sorted(set(value) - set(old))
            if extra:
                found.append(f"releasable_types adds {', '.join(extra)}")
        elif key == "rate_rounding" and value != old:
            found.append(f"rate_rounding {old} -> {value}")
    return found


def project_policy(
    override: Mapping[str, Any] | Path | None,
    *,
    governance_decision: str | None = None,
    base: Policy | None = None,
) -> Policy:
    """The shipped policy with a project's override applied and validated.

    ``override`` is a mapping or a YAML file. Loosening any rule raises
    :class:`GovernanceError` unless ``governance_decision`` (or the override's own
    ``governance_decision`` key) names the decision that allowed it.
    """
    base = base or default_policy()
    if override is None:
        return base
    where: str | None = None
    if isinstance(override, Path):
        where = str(override)
        try:
            loaded = yaml.safe_load(override.read_text("utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(
                f"cannot read the policy override: {exc}".splitlines()[0],
                where=where,
                fix="give a readable YAML mapping of policy keys",
            ) from exc
        override = loaded if isinstance(loaded, dict) else {}
    values = dict(override)
    decision = values.pop("governance_decision", None) or governance_decision
    values.pop("version", None)
    unknown = sorted(set(values) - set(Policy.model_fields))
    if unknown:
        raise InputError(
            f"unknown policy key {unknown[0]!r}",
            where=where,
            fix=f"use only: {', '.join(k for k in Policy.model_fields if k != 'version')}",
        )
    loose = loosenings(base, values)
    if loose and not decision:
        raise GovernanceError(
            f"the project policy loosens {'; '.join(loose)}",
            where=where,
            fix="tighten only, or give the id of the recorded governance decision that allows it",
        )
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()
    version = f"{base.version}+project.{digest[:8]}"
    if decision:
        version += f".decision.{decision}"
    try:
        return Policy.model_validate(
            {**base.model_dump(), **values, "version": version, "governance_decision": decision}
        )
    except ValidationError as exc:
        raise InputError(
            f"bad policy value: {exc.errors()[0]['msg']} for {exc.errors()[0]['loc']}",
            where=where,
            fix="give numbers and booleans like the shipped policy.yaml",
        ) from exc
