"""Probabilistic matching with Splink (Fellegi–Sunter, EM-trained): the only module that
imports splink.

The model compares NHS number, forename (exact with term frequencies, nickname, fuzzy,
initial), surname (exact or birth surname, with term frequencies, fuzzy), date of
birth (exact, day and month swapped, one-character typo, within a year), sex and
postcode (current, any earlier one on the spine, same sector, same district). It is
trained on the whole extract against the spine, so the prior match probability
reflects every record, not only those the deterministic steps left.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from fjdp.linkage.config import LinkageConfig

RECORDS, SPINE = "records", "spine"

# Each rule names a way a true match can still agree exactly. Common Welsh surnames
# (JONES, WILLIAMS, DAVIES are each about one person in twenty) make a rule on surname
# and forename alone produce thousands of candidates per record on a national spine, so
# such rules also ask for the year of birth, or apply only where a date of birth is
# missing.
BLOCKING_RULES = (
    "l.nhs = r.nhs",
    "l.dob = r.dob and l.sex = r.sex",
    "l.sn = r.sn and l.fn1 = r.fn1 and (l.dob is null or r.dob is null)",
    "l.sn = r.sn and l.fn1 = r.fn1 and year(l.dob) = year(r.dob)",
    "l.pc = r.pc and l.sn = r.sn",
    "l.pc = r.pc and l.fn_canon = r.fn_canon",
    "l.sn = r.sn and year(l.dob) = year(r.dob) and month(l.dob) = month(r.dob)",
    "l.sn = r.sn and year(l.dob) = year(r.dob) and left(l.fn1, 1) = left(r.fn1, 1)",
    "l.fn_canon = r.fn_canon and l.dob = r.dob",
    "l.fn1 = r.fn1 and year(l.dob) = year(r.dob) and month(l.dob) = month(r.dob)",
    "l.sn_birth = r.sn and l.fn1 = r.fn1 and year(l.dob) = year(r.dob)",
    "strftime(l.dob, '%Y-%d-%m') = strftime(r.dob, '%Y-%m-%d') and l.fn1 = r.fn1",
)


def _level(sql: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def _null(sql: str) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": "missing", "is_null_level": True}


ELSE = {"sql_condition": "ELSE", "label_for_charts": "all other"}

COMPARISONS: list[dict[str, Any]] = [
    {
        "output_column_name": "nhs",
        "comparison_levels": [
            _null("nhs_l IS NULL OR nhs_r IS NULL"),
            _level("nhs_l = nhs_r", "exact"),
            ELSE,
        ],
    },
    {
        "output_column_name": "forename",
        "comparison_levels": [
            _null("fn1_l IS NULL OR fn1_r IS NULL"),
            _level("fn1_l = fn1_r", "exact", tf_adjustment_column="fn1", tf_adjustment_weight=1.0),
            _level("list_has_any(fn_alts_l, fn_alts_r)", "nickname"),
            _level("jaro_winkler_similarity(fn1_l, fn1_r) >= 0.92", "Jaro-Winkler >= 0.92"),
            _level(
                "(length(fn1_l) = 1 OR length(fn1_r) = 1) AND left(fn1_l, 1) = left(fn1_r, 1)",
                "initial",
            ),
            _level("jaro_winkler_similarity(fn1_l, fn1_r) >= 0.8", "Jaro-Winkler >= 0.8"),
            ELSE,
        ],
    },
    {
        "output_column_name": "surname",
        "comparison_levels": [
            _null("sn_l IS NULL OR sn_r IS NULL"),
            _level("sn_l = sn_r", "exact", tf_adjustment_column="sn", tf_adjustment_weight=1.0),
            _level(
                "sn_l = sn_birth_r OR sn_birth_l = sn_r OR sn_compact_l = sn_compact_r"
                " OR sn_last_l = sn_r OR sn_l = sn_last_r",
                "former or double-barrelled",
            ),
            _level("jaro_winkler_similarity(sn_l, sn_r) >= 0.92", "Jaro-Winkler >= 0.92"),
            _level("jaro_winkler_similarity(sn_l, sn_r) >= 0.8", "Jaro-Winkler >= 0.8"),
            ELSE,
        ],
    },
    {
        "output_column_name": "dob",
        "comparison_levels": [
            _null("dob_l IS NULL OR dob_r IS NULL"),
            _level("dob_l = dob_r", "exact"),
            _level(
                "year(dob_l) = year(dob_r) AND month(dob_l) = day(dob_r) AND day(dob_l) = month(dob_r)",
                "day and month swapped",
            ),
            _level(
                "damerau_levenshtein(strftime(dob_l, '%Y%m%d'), strftime(dob_r, '%Y%m%d')) <= 1",
                "one character",
            ),
            _level("abs(date_diff('day', dob_l, dob_r)) <= 366", "within a year"),
            ELSE,
        ],
    },
    {
        "output_column_name": "sex",
        "comparison_levels": [
            _null("sex_l IS NULL OR sex_r IS NULL"),
            _level("sex_l = sex_r", "exact"),
            ELSE,
        ],
    },
    {
        "output_column_name": "postcode",
        "comparison_levels": [
            _null("pc_l IS NULL OR pc_r IS NULL"),
            _level("pc_l = pc_r", "current"),
            _level("list_contains(pcs_l, pc_r) OR list_contains(pcs_r, pc_l)", "earlier address"),
            _level(
                "split_part(pc_l, ' ', 1) || left(split_part(pc_l, ' ', 2), 1) = "
                "split_part(pc_r, ' ', 1) || left(split_part(pc_r, ' ', 2), 1)",
                "same sector",
            ),
            _level("split_part(pc_l, ' ', 1) = split_part(pc_r, ' ', 1)", "same district"),
            ELSE,
        ],
    },
]


def settings() -> dict[str, Any]:
    return {
        "link_type": "link_only",
        "unique_id_column_name": "uid",
        "comparisons": COMPARISONS,
        "blocking_rules_to_generate_predictions": list(BLOCKING_RULES),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": True,
        "additional_columns_to_retain": [],
    }


@dataclass(frozen=True)
class SplinkRun:
    """Scored candidate pairs (table ``pairs``: uid, pid, weight, probability),
    and the trained model as Splink's JSON."""

    model: dict[str, Any]
    pairs: int


def score(
    con: duckdb.DuckDBPyConnection,
    records_table: str,
    spine_table: str,
    cfg: LinkageConfig,
    *,
    open_table: str,
    model_out: Path | None = None,
    say: Callable[[str], None] = lambda _m: None,
) -> SplinkRun:
    """Train on every record of ``records_table`` against ``spine_table`` and score the
    blocked pairs; leave them in table ``pairs`` on ``con``."""
    from splink import Linker
    from splink.backends.duckdb import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.ERROR)
    db_api = DuckDBAPI(connection=con)
    # Train on the whole extract, or a random sample of it when it is large: the sample
    # stands for every record (not only those left by the deterministic steps), so the
    # prior is right, and training time stays bounded.
    n = int(con.execute(f"select count(*) from {records_table}").fetchall()[0][0])
    if n > cfg.em_max_records:
        con.execute(
            f"create or replace table records_sample as select * from {records_table}"
            f" using sample reservoir({cfg.em_max_records} rows) repeatable ({cfg.seed})"
        )
        records_table = "records_sample"
    rec = db_api.register(records_table, table_name=RECORDS)
    spn = db_api.register(spine_table, table_name=SPINE)
    linker = Linker([rec, spn], settings(), log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        ["l.nhs = r.nhs and l.dob = r.dob", "l.sn = r.sn and l.fn1 = r.fn1 and l.dob = r.dob"],
        recall=0.8,
    )
    say("training: u by random sampling")
    linker.training.estimate_u_using_random_sampling(max_pairs=cfg.u_max_pairs, seed=cfg.seed)
    say("training: m by expectation maximisation")
    # Splink sizes the EM sample from a probe of the records on each side; probing every
    # record of a national spine costs minutes, and a 100k-person probe is plenty.
    n_spine = int(con.execute(f"select count(*) from {spine_table}").fetchall()[0][0])
    probe = min(1.0, 100_000 / max(n_spine, 1))
    notes: list[str] = []
    for rule in ("l.dob = r.dob", "l.sn = r.sn and l.fn1 = r.fn1"):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=2e6, record_sample_proportion=probe
            )
        except ValueError as exc:
            # EM can drive the m of a level never seen among matches below what float64
            # holds; Splink then refuses the value. Keep the other session's estimates.
            if "below the minimum allowed" not in str(exc):
                raise
            notes.append(f"EM blocked on {rule!r} skipped: an m probability underflowed")
            say(notes[-1])
    # Score only the records the deterministic steps left, with the model trained above.
    model = linker.misc.save_model_to_json(overwrite=True)
    scorer = Linker(
        [db_api.register(open_table, table_name="records_open"), spn],
        model,
        log_level=logging.ERROR,
    )
    say("scoring the blocked pairs")
    predictions = scorer.inference.predict(threshold_match_probability=0.05)
    con.execute(
        f"""create or replace table pairs as
        select case when source_dataset_l = '{SPINE}' then uid_r else uid_l end as uid,
               case when source_dataset_l = '{SPINE}' then uid_l else uid_r end as pid,
               match_weight as weight, match_probability as probability
        from {predictions.physical_name}"""
    )
    if notes:
        model = {**model, "fjdp_training_notes": notes}
    if model_out is not None:
        model_out.write_text(json.dumps(model, indent=2) + "\n")
    n = int(con.execute("select count(*) from pairs").fetchall()[0][0])
    return SplinkRun(model=model, pairs=n)
