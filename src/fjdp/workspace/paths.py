"""Where a project's workspace lives under the workspaces folder."""

from __future__ import annotations

from pathlib import Path

WORKSPACE_DB = "workspace.duckdb"


def workspace_link(workspaces: Path, project: str) -> Path:
    """The path researchers open: a symbolic link to the current build."""
    return workspaces / project
