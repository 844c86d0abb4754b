"""Casebook shared text processing: redaction, error signatures and token counting."""
