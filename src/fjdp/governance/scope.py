"""The workspace scope (``fjdp.workspace.scope.Scope``) an approved project may hold."""

from __future__ import annotations

from fjdp.errors import GovernanceError
from fjdp.governance.application import Application, State
from fjdp.types import LinkStatus
from fjdp.workspace.scope import Scope


def build_scope(
    app: Application,
    *,
    title: str = "",
    link_statuses: tuple[LinkStatus, ...] | None = None,
    reference: tuple[str, ...] = ("lsoa_deprivation",),
) -> Scope:
    """The scope of what the last completed review approved: its datasets, tables,
    columns, link statuses, date window and end date, never the working copy of an
    amendment. ``link_statuses`` overrides the approved ones (tests only)."""
    if app.approved is None or app.state not in (State.APPROVED, State.ACTIVE):
        raise GovernanceError(
            f"project {app.project} is {app.state.label} and has no approved scope to provision"
        )
    req = app.approved.request
    data: dict[str, object] = {
        "project": app.project,
        "title": title,
        "end_date": app.approved.end_date,
        "datasets": {
            d.name: {
                t.name: {
                    "columns": t.columns if t.columns == "*" else list(t.columns),
                    "date_column": t.date_column,
                }
                for t in d.tables
            }
            for d in req.datasets
        },
        "reference": list(reference),
    }
    chosen = req.link_statuses if link_statuses is None else link_statuses
    data["link_statuses"] = sorted(s.value for s in chosen)
    if req.date_start is not None and req.date_end is not None:
        data["date_window"] = {"start": req.date_start, "end": req.date_end}
    return Scope.model_validate(data)
