"""Disclosure control: the rules every released figure passes (DESIGN.md section 7)."""
