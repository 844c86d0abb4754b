"""kb_ingest."""
