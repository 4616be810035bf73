"""The ``fjdp`` command: one sub-command group per role or zone."""
