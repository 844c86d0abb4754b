"""Declarative mappings from export columns (CSV headers, JSON keys) to Case fields.

A mapping is a TOML or JSON file, or a preset shipped in `kb_ingest/mappings/` and picked
by name (`gitbugs`, `endava`, `jira-csv`, `zendesk-csv`, `github-csv`).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.domain import Case
from core.errors import MappingError, RecordError

PRESET_PACKAGE = "kb_ingest"
PRESET_FOLDER = "mappings"

_CASE_FIELDS = frozenset(Case.model_fields)


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


class ColumnMap(BaseModel):
    """Which source column(s) feed each Case field.

    Each entry is a column name or a list of names. For `body` every listed column present
    is joined; for `tags` and `linked_runbooks` the values of every listed column are
    collected; for any other field the names are alternatives and the first non-empty
    value wins. Names match headers exactly, else ignoring case and surrounding spaces;
    in JSON records a dotted name (`fields.summary`) follows nested objects.
    """

    model_config = ConfigDict(extra="forbid")

    id: list[str] = Field(min_length=1)
    title: list[str] = Field(default_factory=list)
    body: list[str] = Field(default_factory=list)
    created_at: list[str] = Field(default_factory=list)
    status: list[str] = Field(default_factory=list)
    queue: list[str] = Field(default_factory=list)
    priority: list[str] = Field(default_factory=list)
    product: list[str] = Field(default_factory=list)
    component: list[str] = Field(default_factory=list)
    customer: list[str] = Field(default_factory=list)
    account: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    resolution: list[str] = Field(default_factory=list)
    root_cause: list[str] = Field(default_factory=list)
    linked_runbooks: list[str] = Field(default_factory=list)

    _normalise = field_validator("*", mode="before")(_as_list)

    def mapped(self) -> dict[str, list[str]]:
        """Case field -> its source columns, for the fields that have any."""
        return {name: cols for name, cols in self.model_dump().items() if cols}


class CaseMapping(BaseModel):
    """How the records of one export become Cases."""

    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    description: str = ""
    source: str = Field(default="import", description="Case.source of every case read")
    id_prefix: str = Field(default="", description="prepended to every id, e.g. 'hadoop-'")
    columns: ColumnMap
    required: list[str] = Field(
        default_factory=lambda: ["id"],
        description="Case fields whose column must be in the header and non-empty",
    )
    date_formats: list[str] = Field(
        default_factory=list,
        description="strptime formats tried in order; ISO 8601 is always accepted",
    )
    timezone: str = Field(default="UTC", description="zone of dates that carry no offset")
    body_separator: str = "\n\n"
    label_body_columns: bool = Field(
        default=True, description="prefix every body column but the first with 'Column: '"
    )
    title_words: int = Field(
        default=0, ge=0, description="with no title value, use the first N words of the body"
    )
    tags_separator: str = ","
    list_separator: str = ","
    priority_map: dict[str, str] = Field(default_factory=dict)
    status_map: dict[str, str] = Field(default_factory=dict)
    keep_unmapped: bool = Field(default=True, description="keep other columns in metadata")
    defaults: dict[str, Any] = Field(
        default_factory=dict, description="constant Case fields, used when a value is empty"
    )

    @field_validator("required")
    @classmethod
    def _known_required(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ColumnMap.model_fields))
        if unknown:
            raise ValueError(f"not mappable Case fields: {', '.join(unknown)}")
        return value

    @field_validator("defaults")
    @classmethod
    def _known_defaults(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - _CASE_FIELDS)
        if unknown:
            raise ValueError(f"not Case fields: {', '.join(unknown)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @classmethod
    def from_file(cls, path: Path) -> CaseMapping:
        """Load a mapping from a .toml or .json file; raises MappingError."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MappingError(f"cannot read mapping {path}: {exc}", path=str(path)) from exc
        return cls.from_text(text, fmt="json" if path.suffix.lower() == ".json" else "toml")

    @classmethod
    def from_text(cls, text: str, *, fmt: str = "toml") -> CaseMapping:
        """Parse a mapping from TOML or JSON text; raises MappingError."""
        try:
            data = json.loads(text) if fmt == "json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise MappingError(f"mapping is not valid {fmt.upper()}: {exc}") from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise MappingError(f"invalid mapping: {_errors(exc)}") from exc

    def missing_columns(self, header: Iterable[str]) -> dict[str, list[str]]:
        """Required fields none of whose columns is in `header`, with the columns tried."""
        present = {_fold(h) for h in header}
        mapped = self.columns.mapped()
        return {
            name: mapped.get(name, [])
            for name in self.required
            if not any(_fold(col) in present for col in mapped.get(name, []))
        }

    def check_header(self, header: Sequence[str]) -> None:
        """Raise MappingError naming the required columns that `header` lacks."""
        missing = self.missing_columns(header)
        if missing:
            raise MappingError(
                f"mapping {self.name!r}: missing required column(s): {_describe(missing)}",
                missing=missing,
                header=list(header),
            )

    def to_case(self, record: Mapping[str, Any], *, location: str = "") -> Case:
        """Build a Case from one record (column -> value); raises RecordError if malformed."""
        lookup = _Lookup(record)
        used: set[str] = set()

        def values(field: str) -> list[Any]:
            """Every non-empty value of every column of a collecting field."""
            out: list[Any] = []
            for column in getattr(self.columns, field):
                key, value = lookup.get(column)
                if key is not None:
                    used.add(key)
                out.extend(v for v in _flatten(value) if not _empty(v))
            return out

        def raw(field: str) -> Any:
            """The first non-empty value among a field's alternative columns."""
            for column in getattr(self.columns, field):
                key, value = lookup.get(column)
                found = [v for v in _flatten(value) if not _empty(v)]
                if key is not None and found:
                    # Only the column that supplied the value leaves the metadata.
                    used.add(key)
                    return found[0]
            return None

        def first(field: str) -> str | None:
            value = raw(field)
            return None if value is None else _scalar(value)

        fields: dict[str, Any] = {}
        collecting = ("body", "tags", "linked_runbooks")
        missing = [
            name
            for name in self.required
            if (not values(name) if name in collecting else raw(name) is None)
        ]
        if missing:
            raise RecordError(
                f"missing value for {', '.join(missing)}", location=location, missing=missing
            )

        fields["id"] = f"{self.id_prefix}{first('id')}"
        body = self._body(lookup, used)
        if body:
            fields["body"] = body
        title = first("title")
        if not title and self.title_words and body:
            title = " ".join(self._first_body_text(lookup).split()[: self.title_words])
        if title:
            fields["title"] = title
        created = raw("created_at")
        if created is not None:
            try:
                fields["created_at"] = parse_datetime(created, self.date_formats, self._zone())
            except (ValueError, OverflowError, OSError) as exc:
                raise RecordError(f"created_at: {exc}", location=location) from exc
        status = first("status")
        if status is not None:
            fields["status"] = _mapped(status, self.status_map)
        priority = first("priority")
        if priority is not None:
            fields["priority"] = _mapped(priority, self.priority_map)
        for name in ("queue", "product", "component", "customer", "account"):
            fields[name] = first(name)
        for name in ("resolution", "root_cause"):
            fields[name] = first(name)
        fields["tags"] = _split_all(values("tags"), self.tags_separator)
        fields["linked_runbooks"] = _split_all(values("linked_runbooks"), self.list_separator)
        for name, value in self.defaults.items():
            if _empty(fields.get(name)):
                fields[name] = value
        fields["source"] = self.source
        if self.keep_unmapped:
            fields["metadata"] = {
                key: value for key, value in record.items() if key not in used and not _empty(value)
            }
        try:
            return Case(**{k: v for k, v in fields.items() if v is not None})
        except ValidationError as exc:
            raise RecordError(f"invalid case: {_errors(exc)}", location=location) from exc

    def _zone(self) -> tzinfo:
        return UTC if self.timezone == "UTC" else ZoneInfo(self.timezone)

    def _body(self, lookup: _Lookup, used: set[str]) -> str:
        parts: list[str] = []
        for n, column in enumerate(self.columns.body):
            key, value = lookup.get(column)
            if key is None:
                continue
            used.add(key)
            text = ", ".join(_scalar(v) for v in _flatten(value) if not _empty(v)).strip()
            if not text:
                continue
            parts.append(f"{key}: {text}" if n and self.label_body_columns else text)
        return self.body_separator.join(parts)

    def _first_body_text(self, lookup: _Lookup) -> str:
        for column in self.columns.body:
            _, value = lookup.get(column)
            text = " ".join(_scalar(v) for v in _flatten(value) if not _empty(v))
            if text.strip():
                return text
        return ""


class _Lookup:
    """Finds a column in a record: exact name, then ignoring case, then a dotted path."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = record
        self._folded: dict[str, str] | None = None

    def get(self, column: str) -> tuple[str | None, Any]:
        if column in self.record:
            return column, self.record[column]
        if self._folded is None:
            self._folded = {}
            for key in self.record:
                self._folded.setdefault(_fold(key), key)
        folded = self._folded.get(_fold(column))
        if folded is not None:
            return folded, self.record[folded]
        if "." in column:
            head, _, rest = column.partition(".")
            found, value = self.get(head)
            if found is not None and isinstance(value, Mapping):
                inner, inner_value = _Lookup(value).get(rest)
                if inner is not None:
                    return found, inner_value
        return None, None


def parse_datetime(value: Any, formats: Sequence[str] = (), zone: tzinfo = UTC) -> datetime:
    """A timezone-aware datetime from a string (formats in order, then ISO 8601) or epoch.

    Raises ValueError naming the formats tried.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Epoch seconds, or milliseconds as many exports write them.
        seconds = value / 1000 if abs(value) > 10**11 else value
        return datetime.fromtimestamp(seconds, UTC)
    text = str(value).strip()
    for fmt in formats:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        tried = ", ".join([*formats, "ISO 8601"])
        raise ValueError(f"cannot parse date {text!r} (tried {tried})") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def preset_names() -> list[str]:
    """Names of the mapping presets shipped with Casebook."""
    folder = resources.files(PRESET_PACKAGE).joinpath(PRESET_FOLDER)
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def load_preset(name: str) -> CaseMapping:
    """The shipped mapping preset called `name`; raises MappingError when there is none."""
    entry = resources.files(PRESET_PACKAGE).joinpath(PRESET_FOLDER, f"{name}.toml")
    if "/" in name or "\\" in name or not entry.is_file():
        raise MappingError(
            f"no mapping preset {name!r}; presets: {', '.join(preset_names())}", preset=name
        )
    return CaseMapping.from_text(entry.read_text(encoding="utf-8"))


def load_mapping(spec: CaseMapping | str | Path) -> CaseMapping:
    """A mapping given as itself, a preset name, or a path to a .toml/.json file."""
    if isinstance(spec, CaseMapping):
        return spec
    path = Path(spec)
    if isinstance(spec, Path) or path.suffix.lower() in (".toml", ".json"):
        return CaseMapping.from_file(path)
    return load_preset(str(spec))


def _fold(name: str) -> str:
    return name.strip().casefold()


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return not value
    return False


def _flatten(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [item for v in value for item in _flatten(v)]
    return [value]


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        # Spreadsheet exports keep Windows line ends inside quoted cells.
        return value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if isinstance(value, Mapping):
        # JSON exports often wrap a value as {"name": ...} (Jira status, priority, user).
        for key in ("name", "value", "key", "login", "displayName", "id"):
            if not _empty(value.get(key)):
                return str(value[key]).strip()
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value).strip()


def _mapped(value: str, table: Mapping[str, str]) -> str:
    if value in table:
        return table[value]
    folded = _fold(value)
    for key, target in table.items():
        if _fold(key) == folded:
            return target
    return value


def _split_all(values: Iterable[Any], separator: str) -> list[str]:
    out: list[str] = []
    for value in values:
        text = _scalar(value)
        parts = text.split(separator) if separator.strip() else text.split()
        for part in parts:
            item = part.strip()
            if item and item not in out:
                out.append(item)
    return out


def _describe(missing: Mapping[str, list[str]]) -> str:
    return "; ".join(
        f"{field} ({' or '.join(repr(c) for c in cols) if cols else 'no column mapped'})"
        for field, cols in missing.items()
    )


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
    )
