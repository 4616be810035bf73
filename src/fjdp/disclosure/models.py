"""Regression outputs (statsmodels) checked on their residual degrees of freedom.

A model is released as its coefficient table. A model with fewer residual degrees of
freedom than the policy's minimum is close to a saturated fit that can reproduce
individual records: it fails, and no mitigation can mend it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fjdp.disclosure.policy import Policy
from fjdp.disclosure.record import Status, Table

KINDS = ("ols", "logit", "poisson")
COLUMNS = ["coef", "std_err", "statistic", "p_value", "ci_low", "ci_high"]


@dataclass(frozen=True)
class ModelResult:
    status: Status
    reasons: list[str]
    table: Table
    dof: float
    nobs: int


def fit_model(df: pd.DataFrame, kind: str, y: str, x: list[str], policy: Policy) -> ModelResult:
    """Fit ``kind`` of ``y`` on ``x`` with a constant; check its residual df."""
    import statsmodels.api as sm  # slow to import; only models need it

    data = df[[y, *x]].dropna()
    exog = sm.add_constant(data[x].astype(float), has_constant="add")
    endog = data[y].astype(float)
    family: dict[str, Any] = {"ols": sm.OLS, "logit": sm.Logit, "poisson": sm.Poisson}
    reasons: list[str] = []
    with warnings.catch_warnings():
        # Small or separated samples warn; the df rule below is what decides.
        warnings.simplefilter("ignore")
        try:
            model = family[kind](endog, exog)
            fitted = model.fit() if kind == "ols" else model.fit(disp=0)
        except (np.linalg.LinAlgError, ValueError, Exception) as exc:
            name = type(exc).__name__
            dof = float(len(data) - exog.shape[1])
            return ModelResult(
                Status.FAIL,
                [f"model: could not be fitted ({name}); nothing is released"],
                Table(index=[], columns=COLUMNS, data=[]),
                dof,
                len(data),
            )
        conf = np.asarray(fitted.conf_int())
        names = list(exog.columns)
        params = np.asarray(fitted.params)
        bse = np.asarray(fitted.bse)
        stat = np.asarray(fitted.tvalues)
        pvals = np.asarray(fitted.pvalues)
    dof = float(fitted.df_resid)
    rows = [
        [_f(params[k]), _f(bse[k]), _f(stat[k]), _f(pvals[k]), _f(conf[k, 0]), _f(conf[k, 1])]
        for k in range(len(names))
    ]
    status = Status.PASS
    if dof < policy.min_residual_df:
        status = Status.FAIL
        reasons.append(
            f"degrees of freedom: {dof:g} residual degrees of freedom, fewer than "
            f"{policy.min_residual_df}"
        )
    else:
        reasons.append(f"degrees of freedom: {dof:g} residual, at least {policy.min_residual_df}")
    return ModelResult(
        status, reasons, Table(index=names, columns=COLUMNS, data=rows), dof, len(data)
    )


def _f(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None
