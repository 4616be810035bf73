"""``fjdp databank provision``: build a project's workspace from its approved scope.

The workspace is a folder holding only the scope: one Parquet file per approved table
under ``data/<dataset>/``, the approved reference data, and ``workspace.duckdb`` with a
read-only view per table (``<dataset>.<table>``). Linking fields are re-keyed for the
project: ``alf_pe = HMAC(K_project, alf_e)`` and ``ralf_pe`` likewise, so ``alf_e``
never enters a workspace and two projects' pseudonyms never join. The keys of tables
that other tables refer to (a case, an application, a person in the court data) are
re-keyed with K_project too, for the same reason; the row keys no table refers to are
dropped.

K_project is created at the first provisioning and kept in the databank keystore;
re-provisioning uses it again, so a person's alf_pe is the same in every refresh.

The workspace is built in a hidden folder and published by swapping the symbolic link
``<workspaces>/<project>`` to it, so a researcher sees the old workspace or the new
one, never a mixture, and a failed or killed provisioning leaves the old one in place.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from fjdp.audit import Action, record
from fjdp.databank.catalogue import Version, active_key_version, catalogue, latest, now
from fjdp.databank.engine import connect
from fjdp.databank.load import LINK_COLUMNS, link_columns
from fjdp.databank.reference import reference_path
from fjdp.errors import InputError, RefusedError
from fjdp.faults import crash_point
from fjdp.fsutil import staged_or_removed
from fjdp.keys import ZoneKeys
from fjdp.keys.bulk import create_map
from fjdp.keys.keystore import BankKeystore
from fjdp.keys.layers import hmac_sql
from fjdp.specs import load_spec
from fjdp.specs.model import ColumnType, DatasetSpec, TableSpec, reference_column
from fjdp.sql import PARQUET_OUT, lit, q
from fjdp.workspace.lifecycle import revoke
from fjdp.workspace.paths import WORKSPACE_DB, workspace_link
from fjdp.workspace.scope import Scope

ROLE = "data manager"
_FIX = "see docs/databank.md for the scope file format"


@dataclass(frozen=True)
class Provisioned:
    project: str
    path: Path
    key_created: bool
    rows: dict[str, int]
    versions: dict[str, int]


def _referenced(spec: DatasetSpec) -> set[str]:
    return {c.references for t in spec.tables for c in t.columns if c.references}


def _select(
    spec: DatasetSpec,
    t: TableSpec,
    columns: list[str],
    scope_cols: tuple[str, ...] | str,
    sid: Callable[[str], str],
) -> tuple[list[str], list[str]]:
    """SQL select items for table ``t`` of a loaded version with ``columns``; and the
    person groups whose alf_pe/ralf_pe are wanted."""
    single = len(t.person_id_columns) == 1
    link_names: dict[str, tuple[str, str]] = {}  # output name -> (group, link column)
    for group, _col in t.person_id_columns:
        for c, name in link_columns(group, single).items():
            link_names[name] = (group, c)
    id_columns = {col for _g, col in t.person_id_columns} | {"system_id"}
    refs = {c.name for c in t.columns if c.references}
    content = [
        c
        for c in columns
        if c not in link_names and c not in id_columns and not c.endswith("_system_id")
    ]
    selectable = content + [n for n, (_g, c) in link_names.items() if c not in ("alf_e", "ralf_e")]
    wanted = selectable if scope_cols == "*" else list(scope_cols)
    unknown = [c for c in wanted if c not in selectable]
    if unknown:
        raise InputError(
            f"scope names columns {unknown} that {spec.name}.{t.name} does not have; "
            f"it has {selectable}",
            fix=_FIX,
        )
    items: list[str] = []
    # Row keys others refer to, and references, keep the relational shape under a
    # project key; nothing else of the provider's row keys is kept.
    if t.name in _referenced(spec):
        items.append(f"{sid('t.system_id')} as system_id")
    for ref in sorted(refs):
        name = reference_column(ref)
        if name in columns:
            items.append(f"{sid('t.' + q(name))} as {q(name)}")
    groups = []
    for group, _col in t.person_id_columns:
        prefix = "" if single else f"{group}_"
        groups.append(group)
        items.append(f"pm_{group}.pe as {q(prefix + 'alf_pe')}")
        items.append(f"rm_{group}.pe as {q(prefix + 'ralf_pe')}")
    items += [f"t.{q(c)}" for c in wanted]
    return items, groups


def _status_filter(t: TableSpec, statuses: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Rows of a one-person table outside the approved statuses are left out; in a row
    of several persons, an unapproved person's linking columns are blanked instead, so
    the other person's row survives."""
    allowed = ", ".join(lit(s) for s in statuses)
    if len(t.person_id_columns) == 1:
        return f"t.link_status in ({allowed})", {}
    blanks: dict[str, str] = {}
    for group, _col in t.person_id_columns:
        for c in LINK_COLUMNS:
            blanks[f"{group}_{c}"] = (
                f"case when t.{q(group + '_link_status')} in ({allowed}) then t.{q(group + '_' + c)} end"
            )
    return "true", blanks


def provision(
    zone: ZoneKeys,
    scope: Scope,
    workspaces: Path,
    *,
    actor: str,
    say: Callable[[str], None] = lambda _m: None,
    today: dt.date | None = None,
) -> Provisioned:
    today = today or dt.date.today()
    store = BankKeystore.of(zone)
    if scope.end_date < today:
        if store.has_project_key(scope.project):
            revoke(zone, scope.project, workspaces, actor=actor, reason="past its end date")
        raise RefusedError(
            f"project {scope.project} ended on {scope.end_date}; it cannot be provisioned",
            fix="a project past its end date needs a renewed approval with a later end date",
        )
    versions = latest(zone.path)
    missing = sorted(set(scope.datasets) - set(versions))
    if missing:
        raise InputError(
            f"scope names datasets {missing} that the databank has not loaded",
            fix="load them with `fjdp databank load`, or remove them from the scope",
        )
    for name in scope.reference:
        if not reference_path(zone.path, name).exists():
            raise InputError(
                f"scope names reference data {name!r} that the databank does not hold",
                fix="import it with `fjdp databank reference`",
            )
    key, created = store.project_key(scope.project, create=True)
    try:
        rows = _build_and_publish(zone, scope, versions, key, workspaces, say)
    except BaseException:
        # A first provisioning that failed leaves no key behind: nothing was published
        # under it, and the state is as before the attempt.
        if created:
            store.discard_new_project_key(scope.project)
        raise
    _record(zone, scope, versions, rows, created, actor)
    return Provisioned(
        scope.project,
        workspace_link(workspaces, scope.project),
        created,
        rows,
        {d: versions[d].version for d in scope.datasets},
    )


def _build_and_publish(
    zone: ZoneKeys,
    scope: Scope,
    versions: dict[str, Version],
    key: bytes,
    workspaces: Path,
    say: Callable[[str], None],
) -> dict[str, int]:
    """Build the workspace in a hidden folder and publish it with one rename."""
    store = BankKeystore.of(zone)
    with catalogue(zone.path, read_only=True) as cat:
        bridge = store.bridge_path(scope.project, active_key_version(cat))
    workspaces.mkdir(parents=True, exist_ok=True)
    build = (
        workspaces
        / f".{scope.project}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    )
    work = zone.path / "work" / build.name
    rows: dict[str, int] = {}
    with staged_or_removed(
        build,
        what=f"provision {scope.project}",
        where=workspaces,
        fix="check the workspaces folder is writable and has space",
    ):
        build.mkdir(mode=0o750)
        con = connect(work)
        try:
            rows = _build(con, zone.path, scope, versions, key, bridge, build, say)
        finally:
            con.close()
            shutil.rmtree(work, ignore_errors=True)
        for name in scope.reference:
            dest = build / "reference" / f"{name}.parquet"
            dest.parent.mkdir(exist_ok=True)
            shutil.copyfile(reference_path(zone.path, name), dest)
        _write_db(build, scope, rows)
        meta = {
            "project": scope.project,
            "provisioned": now().isoformat(),
            "versions": {d: versions[d].version for d in scope.datasets},
            "rows": rows,
            "scope": json.loads(scope.to_json()),
        }
        (build / "workspace.json").write_text(json.dumps(meta, indent=2) + "\n")
        for p in build.rglob("*"):
            if p.is_file():
                p.chmod(0o444)
        crash_point("provision.built")
        _publish(workspaces, scope.project, build)
    return rows


def _build(
    con: duckdb.DuckDBPyConnection,
    bank: Path,
    scope: Scope,
    versions: dict[str, Version],
    key: bytes,
    bridge: Path,
    out: Path,
    say: Callable[[str], None],
) -> dict[str, int]:
    statuses = tuple(s.value for s in scope.link_statuses)
    plans: list[tuple[str, str, Path, list[str], list[str], str, dict[str, str]]] = []

    def sid(expr: str) -> str:
        return hmac_sql(key, f"'system_id:' || {expr}")

    for ds, tables in scope.datasets.items():
        spec = load_spec(ds)
        vdir = versions[ds].path(bank)
        for tname, ts in tables.items():
            try:
                t = spec.table(tname)
            except KeyError:
                raise InputError(
                    f"scope names table {ds}.{tname}, which spec {ds} does not define",
                    fix=_FIX,
                ) from None
            src = vdir / f"{tname}.parquet"
            if not src.exists():
                raise InputError(
                    f"{ds} version {versions[ds].version} has no table {tname}", fix=_FIX
                )
            columns = pq.ParquetFile(src).schema_arrow.names
            where = ["true"]
            blanks: dict[str, str] = {}
            if t.person_id_columns:
                cond, blanks = _status_filter(t, statuses)
                where.append(cond)
            if scope.date_window is not None and ts.date_column is not None:
                try:
                    dcol = t.column(ts.date_column)
                except KeyError:
                    dcol = None
                if dcol is None or dcol.type is not ColumnType.DATE:
                    raise InputError(
                        f"scope date_column {ts.date_column!r} is not a date column of {ds}.{tname}",
                        fix=_FIX,
                    )
                w = scope.date_window
                where.append(
                    f"t.{q(ts.date_column)} between {lit(str(w.start))}::date and {lit(str(w.end))}::date"
                )
            items, groups = _select(spec, t, columns, ts.columns, sid)
            plans.append((ds, tname, src, items, groups, " and ".join(where), blanks))
    say(f"{scope.project}: pseudonymising linking fields for the project")
    # One pseudonym per distinct alf_e, and per distinct ralf_e, over the whole scope,
    # computed once. Two maps rather than one of both kinds: each join then probes a
    # smaller hash table (provisioning 10M rows took 2 s less).
    for kind, table in (("alf_e", "amap"), ("ralf_e", "rmap")):
        srcs = [
            f"select {q(('' if len(groups) == 1 else f'{g}_') + kind)} as e"
            f" from read_parquet({lit(str(src))})"
            for _ds, _t, src, _i, groups, _w, _b in plans
            for g in groups
        ]
        _pseudonym_map(con, table, srcs, key, bridge)
    rows: dict[str, int] = {}
    for ds, tname, src, items, groups, cond, blanks in plans:
        say(f"{scope.project}: {ds}.{tname}")
        base = "*"
        if blanks:
            base = "* replace (" + ", ".join(f"{v} as {q(k)}" for k, v in blanks.items()) + ")"
        joins = []
        single = len(groups) == 1
        for g in groups:
            prefix = "" if single else f"{g}_"
            joins.append(f"left join amap pm_{g} on pm_{g}.e = t.{q(prefix + 'alf_e')}")
            joins.append(f"left join rmap rm_{g} on rm_{g}.e = t.{q(prefix + 'ralf_e')}")
        select = ", ".join(items)
        dest = out / "data" / ds / f"{tname}.parquet"
        dest.parent.mkdir(parents=True, exist_ok=True)
        con.execute(
            f"copy (select {select} from (select {base} from read_parquet({lit(str(src))}) t) t "
            f"{' '.join(joins)} where {cond}) to {lit(str(dest))} ({PARQUET_OUT})"
        )
        rows[f"{ds}.{tname}"] = pq.ParquetFile(dest).metadata.num_rows
    return rows


def _pseudonym_map(
    con: duckdb.DuckDBPyConnection, table: str, srcs: list[str], key: bytes, bridge: Path
) -> None:
    """Table ``table`` (e, pe): ``pe = HMAC(K_project, e)`` for every distinct value of
    the relations ``srcs``, or, after a bank key rotation, the pseudonym the project
    already had for that person, from the bridge (see databank/rotate.py)."""
    union = " union all ".join(srcs) if srcs else "select null::varchar as e"
    if not bridge.exists():
        create_map(con, table, union, [key], value="e", pseudonym="pe")
        return
    create_map(con, f"{table}_fresh", union, [key], value="e", pseudonym="pe")
    con.execute(
        f"""create table {table} as select f.e, coalesce(b.pe, f.pe) as pe
            from {table}_fresh f left join read_parquet({lit(str(bridge))}) b on b.e = f.e"""
    )
    con.execute(f"drop table {table}_fresh")


def _write_db(build: Path, scope: Scope, rows: dict[str, int]) -> None:
    """Views over the workspace's Parquet files, by path relative to the workspace, so
    the folder can be opened wherever it is mounted (see ``workspace.access``)."""
    con = duckdb.connect(str(build / WORKSPACE_DB))
    try:
        con.execute(f"set file_search_path = {lit(str(build))}")
        for ds in scope.datasets:
            con.execute(f"create schema {q(ds)}")
        for name in rows:
            ds, tname = name.split(".")
            con.execute(
                f"create view {q(ds)}.{q(tname)} as select * from read_parquet({lit(f'data/{ds}/{tname}.parquet')})"
            )
        if scope.reference:
            con.execute("create schema reference")
            for ref in scope.reference:
                con.execute(
                    f"create view reference.{q(ref)} as select * from read_parquet({lit(f'reference/{ref}.parquet')})"
                )
        con.execute("checkpoint")
    finally:
        con.close()


def _publish(workspaces: Path, project: str, build: Path) -> None:
    """Point ``<workspaces>/<project>`` at ``build`` with one atomic rename of a link."""
    link = workspace_link(workspaces, project)
    old = link.resolve() if link.is_symlink() else None
    if link.exists() and not link.is_symlink():
        raise RefusedError(
            f"{link} is not a workspace link",
            where=str(link),
            fix="move it away; fjdp manages this path",
        )
    tmp = workspaces / f".{project}.link-{secrets.token_hex(3)}"
    os.symlink(build.name, tmp)
    os.replace(tmp, link)
    crash_point("provision.published")
    if old is not None and old != build.resolve():
        shutil.rmtree(old, ignore_errors=True)
    # builds and links a killed provisioning of this project left behind
    for stale in workspaces.glob(f".{project}[-.]*"):
        if stale.name != build.name:
            if stale.is_symlink() or stale.is_file():
                stale.unlink()
            else:
                shutil.rmtree(stale, ignore_errors=True)


def _record(
    zone: ZoneKeys,
    scope: Scope,
    versions: dict[str, Version],
    rows: dict[str, int],
    created: bool,
    actor: str,
) -> None:
    at = now()
    vers = {d: versions[d].version for d in scope.datasets}
    with catalogue(zone.path) as con:
        con.execute(
            """insert into projects values (?, ?, ?, 'active', ?, ?, ?, null, null)
               on conflict (project) do update set title = excluded.title,
                 end_date = excluded.end_date, scope = excluded.scope,
                 last_provisioned = excluded.last_provisioned""",
            [scope.project, scope.title, scope.end_date, scope.to_json(), at, at],
        )
        con.execute(
            "insert into provisions values (?, ?, ?, ?)",
            [scope.project, at, json.dumps(vers), json.dumps(rows)],
        )
    events: list[tuple[Action, dict[str, object]]] = []
    if created:
        events.append((Action.KEY_CREATE, {"key": "project", "project": scope.project}))
    events.append((Action.KEY_USE, {"key": "project", "purpose": "alf_pe, ralf_pe, row keys"}))
    events.append(
        (Action.PROVISION, {"versions": vers, "rows": rows, "end_date": str(scope.end_date)})
    )
    record(
        zone.path, zone=zone.zone.value, actor=actor, role=ROLE, obj=scope.project, events=events
    )
