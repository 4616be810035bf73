"""The governance portal (Django): people, projects, approvals, workspaces and the audit
trail, over the framework-free rules of ``fjdp.governance``."""
