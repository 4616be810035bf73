"""The portal's pages: public (register, catalogue), sign-in, dashboards, projects,
workspaces and the audit trail."""
