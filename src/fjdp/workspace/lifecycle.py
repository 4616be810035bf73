"""The end of a workspace: revocation, and expiry past the project's end date.

Revoking deletes the workspace and destroys K_project (crypto-shredding): any copy of
the workspace's pseudonyms that survives somewhere can never again be matched to the
databank, and the project id can never be provisioned again.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from fjdp.audit import Action, record
from fjdp.databank.catalogue import catalogue, now
from fjdp.errors import InputError, RefusedError
from fjdp.keys import ZoneKeys
from fjdp.keys.keystore import BankKeystore, check_project_id
from fjdp.workspace.paths import workspace_link

ROLE = "data manager"


@dataclass(frozen=True)
class Revoked:
    project: str
    workspace_removed: bool
    reason: str


def _remove_workspace(workspaces: Path, project: str) -> bool:
    link = workspace_link(workspaces, project)
    removed = False
    if link.is_symlink():
        target = link.resolve()
        link.unlink()
        shutil.rmtree(target, ignore_errors=True)
        removed = True
    # Builds of this project that never got published (a killed provisioning).
    for stale in workspaces.glob(f".{project}-*"):
        shutil.rmtree(stale, ignore_errors=True)
        removed = True
    return removed


def revoke(zone: ZoneKeys, project: str, workspaces: Path, *, actor: str, reason: str) -> Revoked:
    check_project_id(project)
    store = BankKeystore.of(zone)
    if store.is_revoked(project):
        raise RefusedError(
            f"project {project} is already revoked", where=str(store.tombstone(project))
        )
    if not store.has_project_key(project):
        raise InputError(
            f"project {project} was never provisioned here",
            where=str(zone.path),
            fix="check the project id with `fjdp databank projects`",
        )
    removed = _remove_workspace(workspaces, project)
    store.destroy_project_key(project, reason=reason)
    with catalogue(zone.path) as con:
        con.execute(
            "update projects set status = 'revoked', revoked_at = ?, revoke_reason = ? where project = ?",
            [now(), reason, project],
        )
    record(
        zone.path,
        zone=zone.zone.value,
        actor=actor,
        role=ROLE,
        obj=project,
        events=[
            (Action.REVOKE, {"reason": reason, "workspace_removed": removed}),
            (Action.KEY_DESTROY, {"key": "project", "project": project}),
        ],
    )
    return Revoked(project, removed, reason)


def expire(
    zone: ZoneKeys, workspaces: Path, *, actor: str, today: dt.date | None = None
) -> list[Revoked]:
    """Revoke every active project whose end date has passed."""
    today = today or dt.date.today()
    with catalogue(zone.path, read_only=True) as con:
        due = [
            (p, e)
            for p, e in con.execute(
                "select project, end_date from projects where status = 'active' and end_date < ?",
                [today],
            ).fetchall()
        ]
    return [
        revoke(zone, p, workspaces, actor=actor, reason=f"past its end date {e}") for p, e in due
    ]


def projects(zone: ZoneKeys) -> list[dict[str, object]]:
    with catalogue(zone.path, read_only=True) as con:
        rows = con.execute(
            "select project, title, end_date, status, last_provisioned, revoked_at, revoke_reason"
            " from projects order by project"
        ).fetchall()
    keys = ("project", "title", "end_date", "status", "last_provisioned", "revoked_at", "reason")
    return [dict(zip(keys, r, strict=True)) for r in rows]
