"""Split a provider's extract into File 1 (identifiers, for the trusted third party) and
File 2 (content, for the databank), each sealed to its recipient with a signed manifest.

Every row is accounted for: rows in = rows accepted + rows quarantined, table by table.
Rows that break a rejecting rule go to the quarantine report (row, column, rule and a
masked value, never an identifier in clear), which stays with the provider.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fjdp.audit import Action, AuditEvent, zone_log
from fjdp.errors import OutputError, RefusedError
from fjdp.fsutil import remove_left_by_dead
from fjdp.keys import PublicKeyCard, ZoneKeys
from fjdp.provider.reader import StagedTable, find_table_file, stage_table
from fjdp.provider.rules import column_rules, lit, masked, q, text, typed
from fjdp.specs import IDENTIFIER_FIELDS, DatasetSpec, Role, TableSpec
from fjdp.specs.model import reference_column
from fjdp.transfer import Manifest, write_bundle

ROLE = "data provider"


@dataclass(frozen=True)
class TableCounts:
    rows_in: int
    accepted: int
    quarantined: int
    flagged: int
    file1_rows: int


@dataclass(frozen=True)
class SplitResult:
    dataset: str
    extract_id: str
    bundle_root: Path
    to_ttp: Path
    to_databank: Path
    report: Path
    tables: dict[str, TableCounts] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_in(self) -> int:
        return sum(t.rows_in for t in self.tables.values())

    @property
    def accepted(self) -> int:
        return sum(t.accepted for t in self.tables.values())

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tables.values())


def new_extract_id(dataset: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{dataset}-{stamp}-{secrets.token_hex(4)}"


def system_ids(n: int, block: int = 1_000_000) -> pa.ChunkedArray:
    """``n`` random 128-bit ids as 32 hex characters: never derived from any identifier.

    Built straight into Arrow string buffers a block at a time (no Python strings), so ten
    million ids cost their 320 MB and little more."""
    chunks = []
    for start in range(0, n, block):
        k = min(block, n - start)
        data = os.urandom(16 * k).hex().encode("ascii")
        offsets = np.arange(0, 32 * k + 1, 32, dtype=np.int32)
        chunks.append(
            pa.StringArray.from_buffers(k, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))
        )
    return pa.chunked_array(chunks, type=pa.string())


def _group_id_columns(t: TableSpec) -> list[str]:
    """File 1 id columns of a table: the row's own id when it holds one person, else one per
    person (a births row holds the baby and the mother)."""
    return [col for _g, col in t.person_id_columns]


class _Splitter:
    def __init__(self, spec: DatasetSpec, work: Path, progress: Callable[[str], None]) -> None:
        self.spec = spec
        self.work = work
        self.say = progress
        self.con = duckdb.connect()
        (work / "duckdb-tmp").mkdir(parents=True, exist_ok=True)
        # bounded below the 1.5 GiB a 10-million-row split may use in all
        self.con.execute("set memory_limit = '700MB'")
        self.con.execute("set threads = 2")
        self.con.execute(f"set temp_directory = {lit(str(work / 'duckdb-tmp'))}")
        self.con.execute("set preserve_insertion_order = false")
        self.con.execute(
            "create table issues (tbl varchar, _row bigint, col varchar, rule varchar,"
            " action varchar, value varchar)"
        )

    def close(self) -> None:
        self.con.close()

    def _path(self, name: str) -> str:
        return lit(str(self.work / name))

    def validate(self, t: TableSpec, staged: StagedTable) -> None:
        con, name = self.con, t.name
        con.execute(f"create view s_{name} as select * from read_parquet({lit(str(staged.path))})")
        for bad in staged.malformed:
            con.execute(
                "insert into issues values (?, ?, '', ?, 'reject', '')",
                [name, bad.row, f"malformed row: {bad.reason}"],
            )
        for col in t.columns:
            for rule in column_rules(col):
                con.execute(
                    f"insert into issues select {lit(name)}, _row, {lit(col.name)}, {lit(rule.name)},"
                    f" {lit(col.action.value)}, {masked(text(col.name))} from s_{name} s"
                    f" where {rule.broken}"
                )
        if t.key:
            k = text(t.key)
            con.execute(
                f"insert into issues select {lit(name)}, _row, {lit(t.key)}, 'duplicate key', 'reject',"
                f" {masked('v')} from (select _row, {k} as v,"
                f" row_number() over (partition by {k} order by _row) as n from s_{name} s)"
                " where v is not null and n > 1"
            )
        for col in t.columns:
            if col.references:
                con.execute(
                    f"insert into issues select {lit(name)}, _row, {lit(col.name)},"
                    f" 'refers to no accepted row of {col.references}', 'reject',"
                    f" {masked(text(col.name))} from s_{name} s where {text(col.name)} is not null"
                    f" and {text(col.name)} not in (select key from acc_{col.references})"
                )
        for chk in t.checks:
            later = typed(t.column(chk.later))
            if chk.via is None:
                earlier = typed(t.column(chk.earlier))
                join = ""
            else:
                parent, _, pcol = chk.earlier.partition(".")
                ptab = self.spec.table(parent)
                earlier = typed(ptab.column(pcol), "p")
                join = f" join s_{parent} p on {text(ptab.key or '', 'p')} = {text(chk.via)}"
            action = t.column(chk.later).action.value
            con.execute(
                f"insert into issues select {lit(name)}, s._row, {lit(chk.later)},"
                f" {lit(f'{chk.later} is before {chk.earlier}')}, {lit(action)}, ''"
                f" from s_{name} s{join} where {later} < {earlier}"
            )
        con.execute(
            f"create table rej_{name} as select distinct _row from issues"
            f" where tbl = {lit(name)} and action = 'reject'"
        )
        key = text(t.key) if t.key else "null::varchar"
        con.execute(
            f"create table acc_{name} as select s._row, {key} as key from s_{name} s"
            f" anti join rej_{name} r on r._row = s._row"
        )

    def assign_ids(self, t: TableSpec) -> None:
        """Random ids for every accepted row (and every person in it)."""
        rows = self.con.execute(f"select _row from acc_{t.name} order by _row").fetchnumpy()["_row"]
        n = len(rows)
        cols: dict[str, pa.Array | pa.ChunkedArray] = {
            "_row": pa.array(rows, type=pa.int64()),
            "system_id": system_ids(n),
        }
        for g in _group_id_columns(t):
            if g != "system_id":
                cols[g] = system_ids(n)
        path = self.work / f"ids_{t.name}.parquet"
        pq.write_table(pa.table(cols), path)
        self.con.execute(
            f"create view ids_{t.name} as select * from read_parquet({lit(str(path))})"
        )
        if t.key:
            self.con.execute(
                f"create view keymap_{t.name} as select a.key, i.system_id from acc_{t.name} a"
                f" join ids_{t.name} i using (_row)"
            )

    def file1(self) -> tuple[Path, int]:
        selects = []
        for t in self.spec.table_order:
            for g, gid in zip(t.persons, _group_id_columns(t), strict=True):
                fields = []
                for f in IDENTIFIER_FIELDS:
                    col = g.columns.get(f)
                    if f in g.fixed:
                        fields.append(f"{lit(g.fixed[f])} as {f}")
                    elif col is None:
                        cast = "date" if f == "date_of_birth" else "varchar"
                        fields.append(f"null::{cast} as {f}")
                    else:
                        fields.append(f"{typed(t.column(col))} as {f}")
                selects.append(
                    f"select i.{q(gid)} as system_id, {lit(t.name)} as source_table,"
                    f" {lit(g.name)} as person, {', '.join(fields)}"
                    f" from s_{t.name} s join ids_{t.name} i using (_row)"
                )
        path = self.work / "file1.parquet"
        self.con.execute(
            f"copy ({' union all '.join(selects)}) to {self._path('file1.parquet')} (format parquet, compression zstd)"
        )
        return path, pq.ParquetFile(path).metadata.num_rows

    def file2(self, t: TableSpec) -> tuple[Path, int]:
        cols = ["i.system_id"]
        cols += [f"i.{q(g)}" for g in _group_id_columns(t) if g != "system_id"]
        joins = []
        for j, col in enumerate(c for c in t.columns if c.role is Role.REFERENCE):
            joins.append(f" left join keymap_{col.references} r{j} on r{j}.key = {text(col.name)}")
            cols.append(f"r{j}.system_id as {q(reference_column(col.name))}")
        cols += [f"{typed(c)} as {q(c.name)}" for c in t.columns if c.role is Role.CONTENT]
        path = self.work / f"file2_{t.name}.parquet"
        self.con.execute(
            f"copy (select {', '.join(cols)} from s_{t.name} s join ids_{t.name} i using (_row)"
            f"{''.join(joins)}) to {lit(str(path))} (format parquet, compression zstd)"
        )
        return path, pq.ParquetFile(path).metadata.num_rows

    def counts(self, t: TableSpec, staged: StagedTable, file1_rows: int) -> TableCounts:
        accepted = self.con.execute(f"select count(*) from acc_{t.name}").fetchall()[0][0]
        rejected = self.con.execute(f"select count(*) from rej_{t.name}").fetchall()[0][0]
        flagged = self.con.execute(
            f"select count(distinct _row) from issues where tbl = {lit(t.name)} and action = 'flag'"
            f" and _row not in (select _row from rej_{t.name})"
        ).fetchall()[0][0]
        malformed_unnumbered = sum(1 for m in staged.malformed if m.row is None)
        rows_in = staged.rows + len(staged.malformed)
        quarantined = int(rejected) + malformed_unnumbered
        if rows_in != accepted + quarantined:  # pragma: no cover - a bug, not a user error
            raise AssertionError(f"{t.name}: {rows_in} rows in but {accepted} + {quarantined} out")
        return TableCounts(rows_in, int(accepted), quarantined, int(flagged), file1_rows)

    def report(self, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        self.con.execute(
            'copy (select tbl as "table", _row as row, col as "column", rule, action,'
            f" value as masked_value from issues order by tbl, _row, col) to {lit(str(dest / 'report.csv'))}"
            " (header, delimiter ',')"
        )
        rules = self.con.execute(
            "select tbl, col, rule, action, count(*) from issues group by all order by 1, 5 desc"
        ).fetchall()
        (dest / "rules.json").write_text(
            json.dumps(
                [
                    {"table": a, "column": b, "rule": c, "action": d, "rows": e}
                    for a, b, c, d, e in rules
                ],
                indent=2,
            )
            + "\n"
        )


def split_extract(
    spec: DatasetSpec,
    extract: Path,
    *,
    zone: ZoneKeys,
    ttp: PublicKeyCard,
    databank: PublicKeyCard,
    out: Path,
    actor: str,
    encoding: str | None = None,
    delimiter: str | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
    again: bool = False,
) -> SplitResult:
    """Validate and split ``extract`` (a file, or a folder of one file per table).

    An extract whose files were split before, into a bundle that still exists, is
    refused unless ``again``: a split that was killed after it finished, and run again,
    must not send the same records twice under two extract ids."""
    t0 = time.perf_counter()
    digest = source_digest(extract)
    done = _splits(zone).get(digest)
    if done is not None and Path(done["bundle"]).is_dir() and not again:
        raise RefusedError(
            f"this extract was already split as {done['extract_id']} on {done['at']}",
            where=str(done["bundle"]),
            fix="send that bundle, or split again with --again to make a new extract",
        )
    extract_id = new_extract_id(spec.name)
    # Both carry this process's id, so a later split can tell what a killed one left.
    work = zone.path / "work" / f"{extract_id}.{os.getpid()}"
    final = out / extract_id
    stage = out / f".{extract_id}.{os.getpid()}.partial"
    remove_left_by_dead(out, ".*.partial")
    remove_left_by_dead(zone.path / "work", "*")
    try:
        out.mkdir(parents=True, exist_ok=True)
        stage.mkdir()
        work.mkdir(parents=True)
    except OSError as exc:
        raise OutputError(
            f"cannot write the split: {exc.strerror or exc}",
            where=str(out),
            fix="choose a folder you can write to with --out",
        ) from None
    splitter = _Splitter(spec, work, progress)
    report_dir = zone.path / "quarantine" / extract_id
    try:
        single = len(spec.tables) == 1
        staged: dict[str, StagedTable] = {}
        for t in spec.table_order:
            source = find_table_file(extract, t, single)
            progress(f"reading {t.name} ({source.name})")
            staged[t.name] = stage_table(
                t, source, work / f"staged_{t.name}.parquet", encoding=encoding, delimiter=delimiter
            )
            progress(f"validating {t.name}: {staged[t.name].rows:,} rows")
            splitter.validate(t, staged[t.name])
            splitter.assign_ids(t)
        progress("writing File 1 and File 2")
        f1_path, f1_rows = splitter.file1()
        f2 = {t.name: splitter.file2(t) for t in spec.table_order}
        f1_by_table = {
            t.name: int(
                splitter.con.execute(
                    f"select count(*) from read_parquet({lit(str(f1_path))}) where source_table = {lit(t.name)}"
                ).fetchall()[0][0]
            )
            for t in spec.tables
        }
        counts = {
            t.name: splitter.counts(t, staged[t.name], f1_by_table[t.name]) for t in spec.tables
        }
        splitter.report(report_dir)
        totals = {
            "rows_in": sum(c.rows_in for c in counts.values()),
            "rows_accepted": sum(c.accepted for c in counts.values()),
            "rows_quarantined": sum(c.quarantined for c in counts.values()),
            "rows_flagged": sum(c.flagged for c in counts.values()),
            "file1_rows": f1_rows,
        }
        per_table = {f"{k}.{n}": v for k, c in counts.items() for n, v in asdict(c).items()}
        progress("sealing File 1 to the trusted third party")
        m1 = write_bundle(
            stage / "to-ttp",
            dataset=spec.name,
            extract_id=extract_id,
            spec_version=str(spec.version),
            kind="file1",
            files=[("file1", f1_path, f1_rows)],
            counts={**totals, **per_table},
            sender=zone,
            recipient=ttp,
        )
        progress("sealing File 2 to the databank")
        m2 = write_bundle(
            stage / "to-databank",
            dataset=spec.name,
            extract_id=extract_id,
            spec_version=str(spec.version),
            kind="file2",
            files=[(name, path, rows) for name, (path, rows) in f2.items()],
            counts={**totals, **per_table},
            sender=zone,
            recipient=databank,
        )
        (stage / "quarantine-summary.json").write_text(
            json.dumps(per_table | totals, indent=2) + "\n"
        )
    except BaseException:
        # The quarantine report belongs to a split that never happened: keep neither.
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(report_dir, ignore_errors=True)
        raise
    finally:
        splitter.close()
        shutil.rmtree(work, ignore_errors=True)
    # Recorded before the rename: a kill between the two leaves a record whose bundle
    # does not exist, which the next split ignores.
    _record_split(zone, digest, extract_id, final, spec.name)
    stage.rename(final)
    _audit(zone, actor, spec, extract_id, totals, m1, m2)
    return SplitResult(
        dataset=spec.name,
        extract_id=extract_id,
        bundle_root=final,
        to_ttp=final / "to-ttp",
        to_databank=final / "to-databank",
        report=report_dir / "report.csv",
        tables=counts,
        seconds=time.perf_counter() - t0,
    )


SPLITS = "splits.json"


def source_digest(extract: Path) -> str:
    """SHA-256 over the extract's files (names and bytes), in name order."""
    files = [extract] if extract.is_file() else sorted(p for p in extract.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0")
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _splits(zone: ZoneKeys) -> dict[str, dict[str, str]]:
    path = zone.path / SPLITS
    if not path.exists():
        return {}
    data: dict[str, dict[str, str]] = json.loads(path.read_text())
    return data


def _record_split(zone: ZoneKeys, digest: str, extract_id: str, bundle: Path, dataset: str) -> None:
    entries = _splits(zone)
    entries[digest] = {
        "extract_id": extract_id,
        "bundle": str(bundle),
        "dataset": dataset,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    tmp = zone.path / f".{SPLITS}.{os.getpid()}"
    tmp.write_text(json.dumps(entries, indent=2) + "\n")
    os.replace(tmp, zone.path / SPLITS)


def _audit(
    zone: ZoneKeys,
    actor: str,
    spec: DatasetSpec,
    extract_id: str,
    totals: dict[str, int],
    m1: Manifest,
    m2: Manifest,
) -> None:
    log = zone_log(zone.path)

    def ev(action: Action, obj: str, details: dict[str, object]) -> None:
        log.append(
            AuditEvent(
                zone=zone.zone.value,
                actor=actor,
                role=ROLE,
                action=action,
                object=obj,
                details=details,
            )
        )

    ev(Action.SPLIT, extract_id, {"dataset": spec.name, "spec_version": spec.version, **totals})
    if totals["rows_quarantined"]:
        ev(Action.QUARANTINE, extract_id, {"rows": totals["rows_quarantined"]})
    for m in (m1, m2):
        ev(Action.KEY_USE, extract_id, {"key": "signing", "purpose": f"manifest of {m.kind}"})
        ev(
            Action.SEND,
            extract_id,
            {
                "kind": m.kind,
                "recipient_zone": m.recipient_zone,
                "recipient_fingerprint": m.recipient_fingerprint,
                "files": [
                    {"table": f.table, "rows": f.rows, "sha256": f.plaintext_sha256}
                    for f in m.files
                ],
            },
        )
