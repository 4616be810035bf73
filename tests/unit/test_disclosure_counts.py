"""A plain table of counts checked against the policy: small counts suppressed, the
rest rounded, derived columns left for a checker."""

from __future__ import annotations

import pandas as pd

from fjdp.disclosure.counts import check_counts, count_columns


def test_counts_are_suppressed_and_rounded() -> None:
    df = pd.DataFrame({"year": [2019, 2020, 2021], "children": [3, 12, 0], "births": [99, 101, 47]})
    assert count_columns(df) == ("children", "births")
    c = check_counts(df)
    assert c.status_before == "fail" and c.status == "review"
    assert c.protected["children"].tolist() == [pd.NA, 10, pd.NA]
    assert c.protected["births"].tolist() == [100, 100, 45]
    assert c.protected["year"].tolist() == [2019, 2020, 2021]
    assert {f["reason"] for f in c.flags} == {"threshold: fewer than 10", "zero: no contributors"}


def test_clean_counts_pass_and_rates_need_review() -> None:
    assert check_counts(pd.DataFrame({"n": [10, 20]})).status == "pass"
    c = check_counts(
        pd.DataFrame({"n": [10, 20], "rate_per_10k": [1.5, 2.5], "difference": [0.0, 1.0]})
    )
    assert c.count_columns == ("n",)
    assert c.status_before == "review" and c.status == "review"
    assert any("not recomputed" in r for r in c.reasons)
