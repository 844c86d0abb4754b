"""Readers that turn ticket exports into Cases, one malformed record at a time.

Every reader yields `Case | RecordError`: a bad record is reported with where it was found
(`tickets.csv:row 17`, `cases.jsonl:line 5`, `issues.json:issues[3]`) and skipped, and the
rest of the file still loads. Problems with the whole file (unreadable, a mapping that does
not fit its header) raise when the reader is called, before any record is read.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.domain import Case
from core.errors import IngestError, MappingError, RecordError
from kb_ingest.case_mapping import CaseMapping, load_mapping, load_preset, parse_datetime

CaseOrError = Case | RecordError
FORMATS = ("csv", "tsv", "jsonl", "json", "zendesk", "jira", "github")
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})

# Zendesk's fixed vocabularies; Jira's come from the jira-csv preset so both stay in step.
ZENDESK_STATUS = {
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "pending",
    "solved": "resolved",
    "closed": "closed",
}
ZENDESK_PRIORITY = {"urgent": "P1", "high": "P2", "normal": "P3", "low": "P4"}
_JIRA_STATUS_CATEGORY = {"new": "new", "indeterminate": "open", "done": "resolved"}


def read_cases(
    path: Path,
    fmt: str | None = None,
    mapping: CaseMapping | str | Path | None = None,
) -> Iterator[CaseOrError]:
    """Cases from a file, by explicit format or by suffix (and, for JSON, by its shape).

    Formats: csv/tsv (a mapping is required), jsonl/json (Case-shaped objects, or mapped
    keys with a mapping), zendesk, jira, github (their native API JSON).
    """
    path = Path(path)
    fmt = (fmt or _sniff_format(path, mapping)).lower()
    if fmt in ("csv", "tsv"):
        if mapping is None:
            raise MappingError(
                f"{path.name}: a CSV file needs a column mapping (a preset name or a file)"
            )
        return read_cases_csv(path, mapping, delimiter="\t" if fmt == "tsv" else ",")
    if fmt in ("jsonl", "json"):
        return read_cases_jsonl(path, mapping)
    if mapping is not None:
        raise MappingError(f"format {fmt!r} has a fixed mapping; do not pass one")
    if fmt == "zendesk":
        return read_zendesk_json(path)
    if fmt == "jira":
        return read_jira_json(path)
    if fmt == "github":
        return read_github_json(path)
    raise IngestError(f"unknown case format {fmt!r}; formats: {', '.join(FORMATS)}", fmt=fmt)


# --- CSV ---------------------------------------------------------------------------------


def read_cases_csv(
    path: Path, mapping: CaseMapping | str | Path, *, delimiter: str = ","
) -> Iterator[CaseOrError]:
    """Cases from a CSV export mapped by `mapping` (a CaseMapping, preset name or file).

    Raises MappingError at once when the header lacks a required column. Rows are counted
    from 1 after the header (`tickets.csv:row 17`). A UTF-8 BOM, quoted newlines and very
    large fields are fine; a row with more fields than the header is reported.
    """
    path = Path(path)
    mapping = load_mapping(mapping)
    _allow_huge_fields()
    header = _csv_header(path, delimiter)
    mapping.check_header(header)
    return _iter_csv(path, mapping, header, delimiter)


def _allow_huge_fields() -> None:
    # Bug reports paste whole logs into one cell; the default 128 KiB limit rejects them.
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 2


def _csv_header(path: Path, delimiter: str) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise IngestError(f"cannot read {path.name}: {exc}", path=str(path)) from exc
    return [name.strip() for name in header]


def _iter_csv(
    path: Path, mapping: CaseMapping, header: list[str], delimiter: str
) -> Iterator[CaseOrError]:
    names = [name or f"column {i + 1}" for i, name in enumerate(header)]
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        row_number = 0
        try:
            next(reader, None)
            for row in reader:
                row_number += 1
                if not any(cell.strip() for cell in row):
                    continue
                location = f"{path.name}:row {row_number}"
                if len(row) > len(names):
                    yield RecordError(
                        f"row has {len(row)} fields, the header has {len(names)}",
                        location=location,
                        line=reader.line_num,
                    )
                    continue
                try:
                    yield mapping.to_case(_row_record(names, row), location=location)
                except RecordError as exc:
                    exc.details["line"] = reader.line_num
                    yield exc
        except (csv.Error, UnicodeDecodeError) as exc:
            # The reader cannot resynchronise after a broken quote or a bad byte: stop here.
            yield RecordError(
                f"unreadable from here on, stopped: {exc}",
                location=f"{path.name}:row {row_number + 1}",
                line=reader.line_num,
            )


def _row_record(names: Sequence[str], row: Sequence[str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, value in zip(names, row, strict=False):
        if name in record:
            # Jira repeats a column per value of a multi-valued field (Labels, Component/s).
            previous = record[name]
            record[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            record[name] = value
    return record


# --- JSON plumbing -----------------------------------------------------------------------


def _json_records(
    path: Path,
    *,
    list_keys: Sequence[str] = (),
    single_keys: Sequence[str] = (),
) -> Iterator[tuple[str, Any] | RecordError]:
    """(location, object) for each record of a JSON document or JSONL file.

    The file is read at once, so an unreadable file raises IngestError here, not later.
    """
    text = _read_text(path)
    return _parse_records(path, text, list_keys, single_keys)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise IngestError(f"cannot read {path.name}: {exc}", path=str(path)) from exc


def _parse_records(
    path: Path, text: str, list_keys: Sequence[str], single_keys: Sequence[str]
) -> Iterator[tuple[str, Any] | RecordError]:
    name = path.name
    if not text.strip():
        return
    if path.suffix.lower() not in _JSONL_SUFFIXES:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            if len([line for line in text.splitlines() if line.strip()]) < 2:
                yield RecordError(f"not valid JSON: {exc}", location=name)
                return
            # More than one line and not one document: read it as JSON Lines.
        else:
            yield from _document_records(name, document, list_keys, single_keys)
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        location = f"{name}:line {number}"
        try:
            yield location, json.loads(line)
        except json.JSONDecodeError as exc:
            yield RecordError(f"not valid JSON: {exc.msg} (column {exc.colno})", location=location)


def _document_records(
    name: str, document: Any, list_keys: Sequence[str], single_keys: Sequence[str]
) -> Iterator[tuple[str, Any]]:
    if isinstance(document, list):
        for i, item in enumerate(document):
            yield f"{name}[{i}]", item
        return
    if isinstance(document, dict):
        for key in list_keys:
            if isinstance(document.get(key), list):
                for i, item in enumerate(document[key]):
                    yield f"{name}:{key}[{i}]", item
                return
        for key in single_keys:
            if isinstance(document.get(key), dict):
                yield f"{name}:{key}", document[key]
                return
    yield name, document


def _records_to_cases(
    records: Iterator[tuple[str, Any] | RecordError],
    build: Callable[[Mapping[str, Any], str], Case],
) -> Iterator[CaseOrError]:
    for record in records:
        if isinstance(record, RecordError):
            yield record
            continue
        location, obj = record
        if not isinstance(obj, dict):
            yield RecordError(
                f"expected a JSON object, got {type(obj).__name__}", location=location
            )
            continue
        try:
            yield build(obj, location)
        except RecordError as exc:
            yield exc
        except ValidationError as exc:
            yield RecordError(f"invalid case: {_errors(exc)}", location=location)
        except (ValueError, TypeError) as exc:
            yield RecordError(str(exc), location=location)


# --- JSONL / JSON of Case-shaped or mapped objects ---------------------------------------


def read_cases_jsonl(
    path: Path, mapping: CaseMapping | str | Path | None = None
) -> Iterator[CaseOrError]:
    """Cases from JSON Lines (or a JSON array); lines are Case-shaped unless a mapping is given.

    With a mapping, object keys are mapped like CSV columns (dotted names reach nested keys).
    """
    path = Path(path)
    resolved = load_mapping(mapping) if mapping is not None else None

    def build(obj: Mapping[str, Any], location: str) -> Case:
        if resolved is None:
            return Case.model_validate(obj)
        return resolved.to_case(obj, location=location)

    return _records_to_cases(_json_records(path, list_keys=("cases",)), build)


# --- Zendesk -----------------------------------------------------------------------------


def read_zendesk_json(path: Path, *, id_prefix: str = "zendesk-") -> Iterator[CaseOrError]:
    """Cases from Zendesk ticket JSON: `{"tickets": [...]}`, `{"ticket": {...}}` or JSONL."""
    records = _json_records(Path(path), list_keys=("tickets", "results"), single_keys=("ticket",))
    return _records_to_cases(records, lambda obj, loc: zendesk_case(obj, id_prefix, loc))


def zendesk_case(
    ticket: Mapping[str, Any], id_prefix: str = "zendesk-", location: str = ""
) -> Case:
    """One Zendesk API ticket as a Case; raises RecordError when it is malformed."""
    ticket_id = _required(ticket, "id", location)
    status = _text(ticket.get("status"))
    priority = _text(ticket.get("priority"))
    custom = {
        str(field.get("id")): field.get("value")
        for field in _list(ticket.get("custom_fields"), "custom_fields", location)
        if isinstance(field, dict) and not _blank(field.get("value"))
    }
    via = ticket.get("via")
    metadata = _compact(
        {
            "type": ticket.get("type"),
            "group_id": ticket.get("group_id"),
            "assignee_id": ticket.get("assignee_id"),
            "brand_id": ticket.get("brand_id"),
            "external_id": ticket.get("external_id"),
            "channel": via.get("channel") if isinstance(via, dict) else None,
            "updated_at": ticket.get("updated_at"),
            "url": ticket.get("url"),
            "custom_fields": custom,
        }
    )
    return Case(
        id=f"{id_prefix}{ticket_id}",
        title=_text(ticket.get("subject") or ticket.get("raw_subject")),
        body=_text(ticket.get("description")),
        **_created(ticket.get("created_at"), location),
        status=ZENDESK_STATUS.get(status.lower(), status) if status else "open",
        priority=ZENDESK_PRIORITY.get(priority.lower(), priority) if priority else None,
        tags=_strings(ticket.get("tags"), "tags", location),
        customer=_id_text(ticket.get("requester_id")),
        account=_id_text(ticket.get("organization_id")),
        source="zendesk",
        metadata=metadata,
    )


# --- Jira --------------------------------------------------------------------------------


def read_jira_json(path: Path, *, id_prefix: str = "") -> Iterator[CaseOrError]:
    """Cases from Jira REST issues: a search result `{"issues": [...]}`, one issue, or JSONL."""
    records = _json_records(Path(path), list_keys=("issues",))
    return _records_to_cases(records, lambda obj, loc: jira_case(obj, id_prefix, loc))


@cache
def _jira_maps() -> tuple[dict[str, str], dict[str, str]]:
    preset = load_preset("jira-csv")
    fold = {k.casefold(): v for k, v in preset.status_map.items()}
    return fold, {k.casefold(): v for k, v in preset.priority_map.items()}


def jira_case(issue: Mapping[str, Any], id_prefix: str = "", location: str = "") -> Case:
    """One Jira REST issue as a Case; raises RecordError when it is malformed."""
    key = issue.get("key") or issue.get("id")
    if _blank(key):
        raise RecordError("issue has no key", location=location)
    fields = issue.get("fields")
    if not isinstance(fields, dict):
        raise RecordError("issue has no 'fields' object", location=location)
    status_map, priority_map = _jira_maps()
    status_obj = _obj(fields.get("status"))
    status_name = _text(status_obj.get("name"))
    category = _text(_obj(status_obj.get("statusCategory")).get("key"))
    status = status_map.get(status_name.casefold()) or _JIRA_STATUS_CATEGORY.get(category)
    priority = _text(_obj(fields.get("priority")).get("name"))
    components = [
        _text(c.get("name"))
        for c in _list(fields.get("components"), "components", location)
        if isinstance(c, dict) and _text(c.get("name"))
    ]
    project = _obj(fields.get("project"))
    description = fields.get("description")
    if isinstance(description, dict):
        description = adf_to_text(description)
    elif description is not None and not isinstance(description, str):
        raise RecordError("description: expected text or a document", location=location)
    metadata = _compact(
        {
            "type": _obj(fields.get("issuetype")).get("name"),
            "jira_status": status_name,
            "components": components if len(components) > 1 else None,
            "affects_versions": _names(fields.get("versions")),
            "fix_versions": _names(fields.get("fixVersions")),
            "resolved_at": fields.get("resolutiondate"),
            "updated_at": fields.get("updated"),
            "url": issue.get("self"),
        }
    )
    return Case(
        id=f"{id_prefix}{_text(key)}",
        title=_text(fields.get("summary")),
        body=_text(description),
        **_created(fields.get("created"), location),
        status=status or status_name or "open",
        priority=priority_map.get(priority.casefold(), priority) if priority else None,
        product=_text(project.get("key") or project.get("name")) or None,
        component=components[0] if components else None,
        tags=_strings(fields.get("labels"), "labels", location),
        resolution=_text(_obj(fields.get("resolution")).get("name")) or None,
        source="jira",
        metadata=metadata,
    )


def adf_to_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node (Jira Cloud rich text)."""
    return "\n\n".join(b for b in _adf_blocks(node) if b.strip()).strip()


_ADF_INLINE = frozenset(
    {"text", "hardBreak", "mention", "emoji", "status", "date", "inlineCard", "blockCard"}
)
_ADF_BLOCK_CONTAINERS = frozenset(
    {"doc", "blockquote", "panel", "expand", "nestedExpand", "layoutSection", "layoutColumn"}
)


def _adf_blocks(node: Any) -> list[str]:
    if not isinstance(node, dict):
        return []
    kind = node.get("type")
    content = _children(node)
    if kind in _ADF_BLOCK_CONTAINERS:
        return [b for child in content for b in _adf_blocks(child)]
    if kind in ("bulletList", "orderedList"):
        lines = []
        for item in content:
            text = "\n".join(b for child in _children(item) for b in _adf_blocks(child))
            if text.strip():
                first, *rest = text.splitlines()
                lines.append(f"- {first}")
                lines.extend(f"  {line}" for line in rest)
        return ["\n".join(lines)]
    if kind == "codeBlock":
        return ["```\n" + _adf_inline(content) + "\n```"]
    if kind == "table":
        rows = []
        for row in content:
            cells = [" ".join(_adf_blocks_flat(cell)) for cell in _children(row)]
            rows.append(" | ".join(cells))
        return ["\n".join(rows)]
    if kind == "rule":
        return []
    if kind in ("paragraph", "heading") or all(
        isinstance(c, dict) and c.get("type") in _ADF_INLINE for c in content
    ):
        return [_adf_inline(content)]
    # Unknown container (task lists, layouts added later): keep its children's blocks.
    return [b for child in content for b in _adf_blocks(child)]


def _adf_blocks_flat(node: Any) -> list[str]:
    return [b.replace("\n", " ") for child in _children(node) for b in _adf_blocks(child)]


def _adf_inline(nodes: list[Any]) -> str:
    parts: list[str] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        attrs = _obj(node.get("attrs"))
        if kind == "text":
            parts.append(str(node.get("text", "")))
        elif kind == "hardBreak":
            parts.append("\n")
        elif kind in ("mention", "emoji", "status", "date"):
            parts.append(str(attrs.get("text") or attrs.get("shortName") or ""))
        elif kind in ("inlineCard", "blockCard"):
            parts.append(str(attrs.get("url") or ""))
        else:
            parts.append(_adf_inline(_children(node)))
    return "".join(parts)


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict) and isinstance(node.get("content"), list):
        return list(node["content"])
    return []


# --- GitHub ------------------------------------------------------------------------------

PULL_REQUEST_SKIPPED = "pull request, not an issue"


def read_github_json(path: Path, *, id_prefix: str = "") -> Iterator[CaseOrError]:
    """Cases from GitHub issues API JSON (a list, a search result, or JSONL).

    Pull requests, which the issues API lists too, are skipped with a RecordError whose
    message is "pull request, not an issue" (details: skipped=True).
    """
    records = _json_records(Path(path), list_keys=("items",))
    return _records_to_cases(records, lambda obj, loc: github_case(obj, id_prefix, loc))


def github_case(issue: Mapping[str, Any], id_prefix: str = "", location: str = "") -> Case:
    """One GitHub API issue as a Case (id `owner/repo#N`, or `github-N` without a repo URL)."""
    number = _required(issue, "number", location)
    if "pull_request" in issue:
        raise RecordError(
            PULL_REQUEST_SKIPPED,
            location=location,
            reason=PULL_REQUEST_SKIPPED,
            skipped=True,
            number=number,
        )
    repo = _github_repo(issue.get("repository_url"))
    base = f"{repo}#{number}" if repo else f"github-{number}"
    labels = [
        label.get("name") if isinstance(label, dict) else label
        for label in _list(issue.get("labels"), "labels", location)
    ]
    state = _text(issue.get("state")).lower()
    metadata = _compact(
        {
            "repository": repo,
            "url": issue.get("html_url"),
            "closed_at": issue.get("closed_at"),
            "state_reason": issue.get("state_reason"),
            "milestone": _obj(issue.get("milestone")).get("title"),
            "assignees": [
                a.get("login")
                for a in _list(issue.get("assignees"), "assignees", location)
                if isinstance(a, dict) and a.get("login")
            ],
            "comments": issue.get("comments"),
        }
    )
    return Case(
        id=f"{id_prefix}{base}",
        title=_text(issue.get("title")),
        body=_text(issue.get("body")),
        **_created(issue.get("created_at"), location),
        status=state or "open",
        tags=_strings(labels, "labels", location),
        customer=_text(_obj(issue.get("user")).get("login")) or None,
        source="github",
        metadata=metadata,
    )


def _github_repo(url: Any) -> str | None:
    # https://api.github.com/repos/{owner}/{repo}
    if not isinstance(url, str) or "/repos/" not in url:
        return None
    parts = url.split("/repos/", 1)[1].strip("/").split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 and all(parts[:2]) else None


# --- format sniffing ---------------------------------------------------------------------


def _sniff_format(path: Path, mapping: object) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    if suffix not in (".json", *_JSONL_SUFFIXES):
        raise IngestError(
            f"cannot tell the format of {path.name}; pass one of: {', '.join(FORMATS)}",
            path=str(path),
        )
    if mapping is not None:
        return "jsonl"
    text = _read_text(path)
    document: Any = None
    if suffix == ".json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None
    if document is None:
        # JSON Lines: the first line that parses tells the shape.
        for line in text.splitlines():
            try:
                document = json.loads(line)
                break
            except json.JSONDecodeError:
                continue
    if isinstance(document, dict):
        if "tickets" in document or "ticket" in document:
            return "zendesk"
        if "issues" in document:
            return "jira"
        for key in ("items", "cases"):
            if isinstance(document.get(key), list):
                document = document[key]
                break
    if isinstance(document, list):
        document = next((item for item in document if isinstance(item, dict)), None)
    return _shape(document) if isinstance(document, dict) else "jsonl"


def _shape(obj: Mapping[str, Any]) -> str:
    if "key" in obj and isinstance(obj.get("fields"), dict):
        return "jira"
    if "number" in obj and any(k in obj for k in ("repository_url", "html_url", "pull_request")):
        return "github"
    if "title" not in obj and any(k in obj for k in ("subject", "requester_id", "raw_subject")):
        return "zendesk"
    return "jsonl"


# --- small value helpers -----------------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def _id_text(value: Any) -> str | None:
    return None if _blank(value) else str(value)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any, field: str, location: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError(
            f"{field}: expected a list, got {type(value).__name__}", location=location
        )
    return value


def _strings(value: Any, field: str, location: str) -> list[str]:
    out: list[str] = []
    for item in _list(value, field, location):
        if isinstance(item, dict | list):
            raise RecordError(f"{field}: expected strings", location=location)
        text = _text(item)
        if text and text not in out:
            out.append(text)
    return out


def _names(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    names = [_text(v.get("name")) for v in value if isinstance(v, dict) and v.get("name")]
    return names or None


def _required(record: Mapping[str, Any], key: str, location: str) -> Any:
    value = record.get(key)
    if _blank(value) or isinstance(value, dict | list | bool):
        raise RecordError(f"missing or invalid {key!r}", location=location)
    return value


def _created(value: Any, location: str) -> dict[str, Any]:
    if _blank(value):
        return {}
    try:
        return {"created_at": parse_datetime(value)}
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        raise RecordError(f"created_at: {exc}", location=location) from exc


def _compact(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != [] and v != {}}


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
    )
