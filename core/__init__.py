"""Casebook core: shared domain types, settings and errors (imports nothing else of Casebook)."""
