"""Path and query parameter types: what ids and filters may look like, checked before storage.

A value no stored row can have (too long for its column, a control character, an id beyond the
32-bit id columns) is a 422 here rather than an error from the database.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from service.knowledge import RUNBOOK_ID
from service.models import UtcDatetime

# No control characters: PostgreSQL rejects NUL, and none belongs in an id or a filter.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
# Ids are INTEGER columns: 32-bit on PostgreSQL.
MAX_ROW_ID = 2**31 - 1

CaseId = Annotated[str, Path(min_length=1, max_length=200, pattern=PRINTABLE)]
KeyId = Annotated[str, Path(min_length=1, max_length=40, pattern=PRINTABLE)]
JobId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
# Ingested runbooks keep their file path as id (spaces allowed, no SQL column limits it);
# runbooks written through the API follow RUNBOOK_ID.
RunbookId = Annotated[str, Path(min_length=1, max_length=1000, pattern=PRINTABLE)]
NewRunbookId = Annotated[
    str,
    Path(
        pattern=RUNBOOK_ID.pattern,
        description="letters, digits and ._/- (no `..`), up to 200 characters",
    ),
]

StatusFilter = Annotated[str | None, Query(max_length=20, pattern=PRINTABLE)]
QueueFilter = Annotated[str | None, Query(max_length=100, pattern=PRINTABLE)]
Cursor = Annotated[str | None, Query(max_length=500, pattern=PRINTABLE)]
TimeFilter = Annotated[UtcDatetime | None, Query()]
