"""Probabilistic matching with Splink (Fellegi–Sunter, EM-trained): the only module that
imports splink.

The model compares NHS number, forename (exact with term frequencies, nickname, fuzzy,
initial), surname (exact or birth surname, with term frequencies, fuzzy), date of
birth (exact, day and month swapped, one-character typo, within a year), sex and
postcode (current, any earlier one on the spine, same sector, same district). It is
trained on the whole extract against the spine, so the prior match probability
reflects every record, not only those the deterministic steps left.

The model runs on DuckDB (the default) or on Spark in local mode (``engine = "spark"``).
Its conditions are written once; the few functions the two dialects spell differently
come from a :class:`Dialect`, so both engines fit the same levels with the same labels.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from fjdp.linkage.config import LinkageConfig
from fjdp.sql import lit

RECORDS, SPINE = "records", "spine"


@dataclass(frozen=True)
class Dialect:
    """The few SQL functions the model needs that DuckDB and Spark spell differently.

    Each is a template over ``{a}`` (and ``{b}``). Spark's string similarities come from
    the jar of Scala functions that Splink ships and registers (``jaro_winkler``,
    ``damerau_levenshtein``). Everything else in the model (``=``, ``length``, ``left``,
    ``split_part``, ``year``, ``month``, ``day``, ``||``) is the same in both.
    """

    name: str  # Splink's name for the dialect
    jaro_winkler: str
    damerau_levenshtein: str
    lists_overlap: str
    list_contains: str
    yyyymmdd: str
    yyyyddmm: str
    days_apart: str

    def jw(self, a: str, b: str) -> str:
        return self.jaro_winkler.format(a=a, b=b)

    def edits(self, a: str, b: str) -> str:
        return self.damerau_levenshtein.format(a=a, b=b)

    def overlap(self, a: str, b: str) -> str:
        return self.lists_overlap.format(a=a, b=b)

    def contains(self, a: str, b: str) -> str:
        return self.list_contains.format(a=a, b=b)

    def ymd(self, a: str) -> str:
        return self.yyyymmdd.format(a=a)

    def ydm(self, a: str) -> str:
        return self.yyyyddmm.format(a=a)

    def days(self, a: str, b: str) -> str:
        return self.days_apart.format(a=a, b=b)


DUCKDB = Dialect(
    name="duckdb",
    jaro_winkler="jaro_winkler_similarity({a}, {b})",
    damerau_levenshtein="damerau_levenshtein({a}, {b})",
    lists_overlap="list_has_any({a}, {b})",
    list_contains="list_contains({a}, {b})",
    yyyymmdd="strftime({a}, '%Y%m%d')",
    yyyyddmm="strftime({a}, '%Y%d%m')",
    days_apart="abs(date_diff('day', {a}, {b}))",
)
SPARK = Dialect(
    name="spark",
    jaro_winkler="jaro_winkler({a}, {b})",
    damerau_levenshtein="damerau_levenshtein({a}, {b})",
    lists_overlap="arrays_overlap({a}, {b})",
    list_contains="array_contains({a}, {b})",
    yyyymmdd="date_format({a}, 'yyyyMMdd')",
    yyyyddmm="date_format({a}, 'yyyyddMM')",
    days_apart="abs(datediff({a}, {b}))",
)
DIALECTS = {"duckdb": DUCKDB, "spark": SPARK}


def blocking_rules(d: Dialect) -> tuple[str, ...]:
    """Each rule names a way a true match can still agree exactly. Common Welsh surnames
    (JONES, WILLIAMS, DAVIES are each about one person in twenty) make a rule on surname
    and forename alone produce thousands of candidates per record on a national spine, so
    such rules also ask for the year of birth, or apply only where a date of birth is
    missing."""
    return (
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
        # day and month swapped
        f"{d.ydm('l.dob')} = {d.ymd('r.dob')} and l.fn1 = r.fn1",
    )


def _level(sql: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def _null(sql: str) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": "missing", "is_null_level": True}


ELSE = {"sql_condition": "ELSE", "label_for_charts": "all other"}


def comparisons(d: Dialect) -> list[dict[str, Any]]:
    """The model's comparisons, in dialect ``d``: the same levels in the same order on
    every engine."""
    return [
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
                _level(
                    "fn1_l = fn1_r", "exact", tf_adjustment_column="fn1", tf_adjustment_weight=1.0
                ),
                _level(d.overlap("fn_alts_l", "fn_alts_r"), "nickname"),
                _level(f"{d.jw('fn1_l', 'fn1_r')} >= 0.92", "Jaro-Winkler >= 0.92"),
                _level(
                    "(length(fn1_l) = 1 OR length(fn1_r) = 1) AND left(fn1_l, 1) = left(fn1_r, 1)",
                    "initial",
                ),
                _level(f"{d.jw('fn1_l', 'fn1_r')} >= 0.8", "Jaro-Winkler >= 0.8"),
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
                _level(f"{d.jw('sn_l', 'sn_r')} >= 0.92", "Jaro-Winkler >= 0.92"),
                _level(f"{d.jw('sn_l', 'sn_r')} >= 0.8", "Jaro-Winkler >= 0.8"),
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
                _level(f"{d.edits(d.ymd('dob_l'), d.ymd('dob_r'))} <= 1", "one character"),
                _level(f"{d.days('dob_l', 'dob_r')} <= 366", "within a year"),
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
                _level(
                    f"{d.contains('pcs_l', 'pc_r')} OR {d.contains('pcs_r', 'pc_l')}",
                    "earlier address",
                ),
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


def settings(d: Dialect = DUCKDB) -> dict[str, Any]:
    return {
        "link_type": "link_only",
        "unique_id_column_name": "uid",
        "comparisons": comparisons(d),
        "blocking_rules_to_generate_predictions": list(blocking_rules(d)),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": True,
        "additional_columns_to_retain": [],
    }


# Rules for the prior and for EM blocking: plain equality, the same on every engine.
PRIOR_RULES = ("l.nhs = r.nhs and l.dob = r.dob", "l.sn = r.sn and l.fn1 = r.fn1 and l.dob = r.dob")
EM_RULES = ("l.dob = r.dob", "l.sn = r.sn and l.fn1 = r.fn1")


@dataclass(frozen=True)
class SplinkRun:
    """Scored candidate pairs (table ``pairs``: uid, pid, weight, probability),
    and the trained model as Splink's JSON."""

    model: dict[str, Any]
    pairs: int


# The scored pairs as the cascade wants them: the record's uid, the spine person's uid.
PAIRS_SQL = f"""select case when source_dataset_l = '{SPINE}' then uid_r else uid_l end as uid,
       case when source_dataset_l = '{SPINE}' then uid_l else uid_r end as pid,
       match_weight as weight, match_probability as probability
from {{predictions}}"""


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
    blocked pairs of ``open_table``; leave them in table ``pairs`` on ``con``.

    ``cfg.engine`` says where Splink runs: on ``con`` itself (DuckDB), or on a local Spark
    session fed Parquet copies of the three tables, written with the scored pairs under
    ``spark/`` in the connection's temporary directory (the run's work folder)."""
    logging.getLogger("splink").setLevel(logging.ERROR)
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
    # Splink sizes the EM sample from a probe of the records on each side; probing every
    # record of a national spine costs minutes, and a 100k-person probe is plenty.
    n_spine = int(con.execute(f"select count(*) from {spine_table}").fetchall()[0][0])
    probe = min(1.0, 100_000 / max(n_spine, 1))
    if cfg.engine == "spark":
        model, notes = _score_on_spark(
            con, (records_table, spine_table, open_table), cfg, probe=probe, say=say
        )
    else:
        from splink.backends.duckdb import DuckDBAPI

        db_api = DuckDBAPI(connection=con)
        model, notes, predictions = _train_and_predict(
            db_api, (records_table, spine_table, open_table), DUCKDB, cfg, probe=probe, say=say
        )
        sql = PAIRS_SQL.format(predictions=predictions)
        con.execute(f"create or replace table pairs as {sql}")
    model = {**model, "fjdp_engine": cfg.engine}
    if notes:
        model["fjdp_training_notes"] = notes
    if model_out is not None:
        model_out.write_text(json.dumps(model, indent=2) + "\n")
    n = int(con.execute("select count(*) from pairs").fetchall()[0][0])
    return SplinkRun(model=model, pairs=n)


def _train_and_predict(
    db_api: Any,
    tables: tuple[Any, Any, Any],
    dialect: Dialect,
    cfg: LinkageConfig,
    *,
    probe: float,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], list[str], str]:
    """Train the model on records against spine and score the open records, on whichever
    engine ``db_api`` is. Returns the model, training notes and the predictions' table."""
    from splink import Linker

    records, spine, open_records = tables
    rec = db_api.register(records, table_name=RECORDS)
    spn = db_api.register(spine, table_name=SPINE)
    linker = Linker([rec, spn], settings(dialect), log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(list(PRIOR_RULES), recall=0.8)
    say("training: u by random sampling")
    # DuckDB samples u in chunks and stops once every level has been seen often enough. On
    # Spark each query costs seconds of fixed overhead however small, so it takes the
    # whole sample of u_max_pairs in one pass per comparison instead.
    linker.training.estimate_u_using_random_sampling(
        max_pairs=cfg.u_max_pairs, seed=cfg.seed, num_chunks=1 if dialect is SPARK else 10
    )
    say("training: m by expectation maximisation")
    notes: list[str] = []
    for rule in EM_RULES:
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
    model: dict[str, Any] = linker.misc.save_model_to_json(overwrite=True)
    scorer = Linker(
        [db_api.register(open_records, table_name="records_open"), spn],
        model,
        log_level=logging.ERROR,
    )
    say("scoring the blocked pairs")
    predictions = scorer.inference.predict(threshold_match_probability=0.05)
    return model, notes, str(predictions.physical_name)


def _score_on_spark(
    con: duckdb.DuckDBPyConnection,
    tables: tuple[str, str, str],
    cfg: LinkageConfig,
    *,
    probe: float,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], list[str]]:
    """The same model on a local Spark session; the pairs come back into ``pairs``."""
    from fjdp.linkage.spark_session import check_available, local_spark

    check_available()
    from splink.backends.spark import SparkAPI, similarity_jar_location

    work = _work_folder(con) / "spark"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        paths = []
        for table in tables:
            path = work / "in" / f"{table}.parquet"
            path.parent.mkdir(exist_ok=True)
            con.execute(f"copy (select * from {table}) to {lit(str(path))} (format parquet)")
            paths.append(str(path))
        say("starting Spark (local mode)")
        with local_spark(
            memory=cfg.memory_limit, work=work, jars=[similarity_jar_location()], app="fjdp-linkage"
        ) as spark:
            db_api = SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]
            frames = tuple(spark.read.parquet(p) for p in paths)
            model, notes, predictions = _train_and_predict(
                db_api, (frames[0], frames[1], frames[2]), SPARK, cfg, probe=probe, say=say
            )
            pairs = work / "pairs"
            spark.sql(PAIRS_SQL.format(predictions=predictions)).write.parquet(str(pairs))
        con.execute(
            f"create or replace table pairs as select uid, pid, weight, probability"
            f" from read_parquet({lit(str(pairs / '*.parquet'))})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return model, notes


def _work_folder(con: duckdb.DuckDBPyConnection) -> Path:
    """The run's work folder: the connection's temporary directory (see session.connect)."""
    rows = con.execute("select current_setting('temp_directory')").fetchall()
    folder = Path(str(rows[0][0] or "."))
    return folder if folder.is_absolute() else Path(tempfile.mkdtemp(prefix="fjdp-spark-"))
