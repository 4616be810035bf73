"""Checks an auditor runs over the zones: the leak scanner."""
