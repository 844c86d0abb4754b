"""Durable records of the service: cases, drafts, reviews, jobs, keys and audit (SQLAlchemy)."""
