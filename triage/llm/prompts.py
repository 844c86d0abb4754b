"""Versioned prompt templates: `triage/prompts/<name>/<version>.md`, rendered to chat messages.

A template file has a YAML front-matter header (name, version, description, output_schema,
data_blocks) and a body split into `[system]` / `[user]` / `[assistant]` sections. Bodies
use `string.Template` placeholders (`$name`, `${name}`; `$$` for a literal dollar).
Every value is neutralised against the `data_blocks` delimiters (`<case>`, `</case>`, ...)
so untrusted text can never close its block and pose as instructions.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from core.errors import TriageError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
_SECTION = re.compile(r"^\[(system|user|assistant)\][ \t]*$", re.MULTILINE)
_VERSION = re.compile(r"^v(\d+)$")


class PromptError(TriageError):
    """A prompt template is missing, malformed, or rendered without all its variables."""

    code = "prompt_error"


@dataclass(frozen=True)
class PromptTemplate:
    """One version of one prompt: metadata plus role-tagged `string.Template` sections."""

    name: str
    version: str
    description: str
    output_schema: str
    data_blocks: tuple[str, ...]
    sections: tuple[tuple[str, str], ...]

    @property
    def id(self) -> str:
        """`name@version`, e.g. `triage_draft@v1`; logged with every call."""
        return f"{self.name}@{self.version}"

    @property
    def variables(self) -> frozenset[str]:
        """Names of every placeholder in the template."""
        names: set[str] = set()
        for _, body in self.sections:
            names.update(string.Template(body).get_identifiers())
        return frozenset(names)

    def render(self, **variables: Any) -> list[dict[str, str]]:
        """Chat messages with every placeholder filled; PromptError if any is missing.

        None renders as "unknown"; other values through `str()`. Extra variables are ignored.
        """
        missing = sorted(self.variables - variables.keys())
        if missing:
            raise PromptError(
                f"prompt {self.id} is missing variables: {', '.join(missing)}",
                prompt=self.id,
                missing=missing,
            )
        values = {
            key: neutralise_delimiters(_as_text(value), self.data_blocks)
            for key, value in variables.items()
        }
        messages = []
        for role, body in self.sections:
            try:
                content = string.Template(body).substitute(values)
            except ValueError as exc:  # a stray `$` in the template file itself
                raise PromptError(f"prompt {self.id} has an invalid placeholder: {exc}") from exc
            messages.append({"role": role, "content": content.strip()})
        return messages


def _as_text(value: Any) -> str:
    if value is None:
        return "unknown"
    return value if isinstance(value, str) else str(value)


def neutralise_delimiters(text: str, tags: tuple[str, ...] | list[str]) -> str:
    """Defang `<tag>`, `</tag>`, `< / TAG ...` in untrusted text so it cannot open or close
    a data block; the angle bracket becomes a look-alike (`‹`) so the text stays readable."""
    if not tags or "<" not in text:
        return text
    pattern = re.compile(
        r"<(\s*/?\s*(?:" + "|".join(re.escape(t) for t in tags) + r"))(?![\w-])", re.IGNORECASE
    )
    return pattern.sub(lambda m: "‹" + m.group(1), text)


def parse_prompt(text: str, *, source: str = "<string>") -> PromptTemplate:
    """Parse the text of a template file."""
    if not text.startswith("---"):
        raise PromptError(f"{source}: missing front-matter header", source=source)
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise PromptError(f"{source}: unterminated front-matter header", source=source)
    header_text, body = parts[0][3:], parts[1]
    body = body.split("\n", 1)[1] if "\n" in body else ""
    try:
        header = yaml.safe_load(header_text) or {}
    except yaml.YAMLError as exc:
        raise PromptError(f"{source}: invalid front matter: {exc}", source=source) from exc
    if not isinstance(header, dict):
        raise PromptError(f"{source}: front matter must be a mapping", source=source)
    for key in ("name", "version"):
        if not header.get(key):
            raise PromptError(f"{source}: front matter lacks {key!r}", source=source)
    version = str(header["version"])
    if not _VERSION.match(version):
        raise PromptError(f"{source}: version must look like v1, v2, ...", source=source)
    matches = list(_SECTION.finditer(body))
    if not matches:
        raise PromptError(f"{source}: no [system]/[user] sections", source=source)
    sections = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(body)
        sections.append((match.group(1), body[match.end() : end]))
    blocks = header.get("data_blocks") or []
    if isinstance(blocks, str):
        blocks = [blocks]
    return PromptTemplate(
        name=str(header["name"]),
        version=version,
        description=str(header.get("description") or "").strip(),
        output_schema=str(header.get("output_schema") or ""),
        data_blocks=tuple(str(b) for b in blocks),
        sections=tuple(sections),
    )


def available_versions(name: str, directory: Path | None = None) -> list[str]:
    """Versions of prompt `name` on disk, oldest first."""
    folder = (directory or PROMPTS_DIR) / name
    if not folder.is_dir():
        return []
    found = [
        (int(m.group(1)), p.stem) for p in folder.glob("v*.md") if (m := _VERSION.match(p.stem))
    ]
    return [stem for _, stem in sorted(found)]


def load_prompt(
    name: str, version: str = "latest", *, directory: Path | None = None
) -> PromptTemplate:
    """Load prompt `name` at `version` ("v1", ... or "latest") from the prompts folder."""
    return _load(name, version, directory or PROMPTS_DIR)


@lru_cache(maxsize=64)
def _load(name: str, version: str, directory: Path) -> PromptTemplate:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise PromptError(f"invalid prompt name {name!r}", prompt=name)
    versions = available_versions(name, directory)
    if not versions:
        raise PromptError(f"no prompt named {name!r} in {directory}", prompt=name)
    chosen = versions[-1] if version == "latest" else version
    if chosen not in versions:
        raise PromptError(
            f"prompt {name!r} has no version {version!r} (have {', '.join(versions)})",
            prompt=name,
        )
    path = directory / name / f"{chosen}.md"
    template = parse_prompt(path.read_text(encoding="utf-8"), source=str(path))
    if template.name != name or template.version != chosen:
        raise PromptError(
            f"{path}: header says {template.id}, file is {name}@{chosen}", source=str(path)
        )
    return template
