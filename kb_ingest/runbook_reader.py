"""Runbooks from a folder of Markdown (with YAML or TOML front matter) and HTML pages."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.domain import Runbook
from core.errors import IngestError, RecordError
from kb_ingest.chunking import markdown_headings
from kb_ingest.html_text import html_to_markdown

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
RUNBOOK_SUFFIXES = MARKDOWN_SUFFIXES | HTML_SUFFIXES

_FRONT_MATTER = {
    "---": re.compile(
        r"\A---[ \t]*\r?\n(.*?)(?:\r?\n)?^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M
    ),
    "+++": re.compile(r"\A\+\+\+[ \t]*\r?\n(.*?)(?:\r?\n)?^\+\+\+[ \t]*(?:\r?\n|\Z)", re.S | re.M),
}
# Hugo shortcodes: a cross-reference keeps its target, any other shortcode tag is dropped
# (the text between a paired shortcode's tags stays).
_REF_SHORTCODE = re.compile(r"\{\{[<%]\s*(?:rel)?ref\s+\"?([^\"\s>%]+)\"?\s*[>%]\}\}")
_SHORTCODE = re.compile(r"\{\{[<%]\s*/?\s*[\w.-]+(?:\s[^}]*)?[>%]\}\}")
_TAG_KEYS = ("tags", "categories", "keywords")
_DATE_KEYS = ("lastmod", "updated", "updated_at", "date")
# Front-matter keys that become Runbook fields rather than metadata.
_FIELD_KEYS = frozenset({"id", "title", "product", "url", "source", *_TAG_KEYS, *_DATE_KEYS})


def read_runbooks(root: Path, *, skip_empty: bool = True) -> Iterator[Runbook | RecordError]:
    """Runbooks from every Markdown and HTML file under `root`, in sorted path order.

    A file that cannot be decoded or parsed yields a RecordError (location: its path) and
    the walk goes on. Pages without any body text, such as Hugo section `_index.md` stubs,
    are skipped unless `skip_empty` is False. Hidden files and folders are ignored.
    """
    root = Path(root)
    if root.is_file():
        files = [root]
        base = root.parent
    elif root.is_dir():
        base = root
        files = sorted(
            (
                path
                for path in root.rglob("*")
                if path.suffix.lower() in RUNBOOK_SUFFIXES
                and not any(part.startswith(".") for part in path.relative_to(root).parts)
                and path.is_file()
            ),
            key=lambda path: path.relative_to(root).as_posix(),
        )
    else:
        raise IngestError(f"runbook folder not found: {root}", path=str(root))
    for path in files:
        try:
            runbook = read_runbook(path, base)
        except RecordError as exc:
            yield exc
            continue
        if runbook.body.strip() or not skip_empty:
            yield runbook


def read_runbook(path: Path, root: Path) -> Runbook:
    """One runbook file; its id and source are taken relative to `root`.

    Raises RecordError when the file cannot be decoded or its front matter parsed.
    """
    relative = path.relative_to(root).as_posix()
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"cannot read {relative}: {exc}", location=relative) from exc

    if path.suffix.lower() in HTML_SUFFIXES:
        front: dict[str, Any] = {}
        try:
            body, html_title = html_to_markdown(text)
        except Exception as exc:  # selectolax raises plain exceptions on broken input
            raise RecordError(f"cannot parse HTML {relative}: {exc}", location=relative) from exc
        fmt = "html"
    else:
        front, body = split_front_matter(text, location=relative)
        body = clean_hugo_shortcodes(body)
        html_title = None
        fmt = "markdown"

    heading_title = next((h.text for h in markdown_headings(body) if h.level == 1), None)
    title = _text(front.get("title")) or html_title or heading_title or path.stem
    runbook_id = _text(front.get("id")) or str(Path(relative).with_suffix("").as_posix())
    source = _text(front.get("url")) or _text(front.get("source")) or relative
    metadata: dict[str, Any] = {
        key: _json_safe(value) for key, value in front.items() if key not in _FIELD_KEYS
    }
    metadata["path"] = relative
    metadata["format"] = fmt
    if heading_title and heading_title != title:
        metadata["heading"] = heading_title
    try:
        return Runbook(
            id=runbook_id,
            title=title,
            source=source,
            body=body.strip(),
            tags=_tags(front),
            product=_text(front.get("product")) or None,
            updated_at=_updated_at(front),
            metadata=metadata,
        )
    except ValidationError as exc:
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RecordError(f"invalid runbook {relative}: {message}", location=relative) from exc


def split_front_matter(text: str, *, location: str = "") -> tuple[dict[str, Any], str]:
    """Front matter (YAML between `---` lines, or TOML between `+++` lines) and the body.

    Raises RecordError when the front matter is not valid YAML/TOML or not a mapping.
    """
    for fence, pattern in _FRONT_MATTER.items():
        if not text.startswith(fence):
            continue
        match = pattern.match(text)
        if match is None:
            if fence == "---":
                # A leading thematic break with no closing line is Markdown, not front matter.
                return {}, text
            raise RecordError("front matter is not closed by '+++'", location=location)
        raw = match.group(1)
        try:
            data = yaml.safe_load(raw) if fence == "---" else tomllib.loads(raw)
        except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
            raise RecordError(f"invalid front matter: {exc}", location=location) from exc
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise RecordError("front matter is not a mapping", location=location)
        return {str(k): v for k, v in data.items()}, text[match.end() :]
    return {}, text


def clean_hugo_shortcodes(text: str) -> str:
    """Replace Hugo `ref`/`relref` shortcodes by their target and drop other shortcode tags."""
    return _SHORTCODE.sub("", _REF_SHORTCODE.sub(r"\1", text))


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def _tags(front: Mapping[str, Any]) -> list[str]:
    tags: list[str] = []
    for key in _TAG_KEYS:
        value = front.get(key)
        values = value if isinstance(value, list) else str(value or "").split(",")
        for item in values:
            tag = _text(item)
            if tag and tag not in tags:
                tags.append(tag)
    return tags


def _updated_at(front: Mapping[str, Any]) -> datetime | None:
    for key in _DATE_KEYS:
        value = front.get(key)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime.combine(value, time(), tzinfo=UTC)
        if isinstance(value, str) and value.strip():
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _json_safe(value: Any) -> Any:
    # Front matter may hold dates and TOML times; metadata must survive a JSON round trip.
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return value
