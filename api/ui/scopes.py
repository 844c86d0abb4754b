"""Which API scope each UI page needs: the UI uses the API's roles, with no roles of its own."""

from __future__ import annotations

# Engineers review drafts; reading a case page is what cases:read allows in the API.
REVIEW = "drafts:review"
READ_CASE = "cases:read"
SEARCH = "search"
# Coverage is for whoever maintains the knowledge base: kb_author (and admin).
COVERAGE = "runbooks:write"
# Eval results are read-only quality figures for everyone who uses search.
EVALS = "search"
