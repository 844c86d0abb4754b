"""Heading-aware chunking of Markdown, sized in tiktoken tokens.

Each chunk carries its heading path and its text starts with that path, so a chunk embeds
and matches with its context ("etcd > Diagnosis > Check member health").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from casetext.tokens import TokenCounter
from core.domain import Chunk, DocKind

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?=[ \t]|$)(.*)$")
_ATX_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(={2,}|-{2,})[ \t]*$")
# Lines that cannot be the text of a setext heading (list items, quotes, indented code).
_NOT_SETEXT_TEXT = re.compile(r"^(?: {4,}|\t| {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)| {0,3}>)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# Where a paragraph may be cut: any line break, or the space after a sentence end.
_TEXT_CUT = re.compile(r"\n|(?<=[.!?])[ \t]+(?=\S)")
_PATH_SEP = " > "
_MIN_MAX_TOKENS = 8


@dataclass(frozen=True)
class Heading:
    """A Markdown heading: its level (1-6), its text and the 0-based line it ends on."""

    level: int
    text: str
    line: int


@dataclass(frozen=True)
class _Fence:
    opening: str
    lines: tuple[str, ...]
    closing: str

    def render(self) -> str:
        return "\n".join([self.opening, *self.lines, self.closing])


_Item = Heading | _Fence | str


def _clean_heading(text: str) -> str:
    text = _ATX_CLOSE.sub("", text.strip())
    text = _LINK.sub(r"\1", text)
    return " ".join(text.split())


def _scan(text: str) -> list[_Item]:
    """Split Markdown into headings, fenced code blocks and plain lines."""
    items: list[_Item] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    # Only a one-line paragraph becomes a setext heading: a multi-line paragraph over
    # "---" is far more often prose above a horizontal rule than a heading.
    paragraph_lines = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            marker = fence.group(1)
            body: list[str] = []
            closing = ""
            i += 1
            while i < len(lines):
                close = re.match(r"^ {0,3}(`{3,}|~{3,})[ \t]*$", lines[i])
                if close and close.group(1)[0] == marker[0] and len(close.group(1)) >= len(marker):
                    closing = lines[i]
                    break
                body.append(lines[i])
                i += 1
            # An unclosed fence runs to the end of the document (CommonMark); close it on render.
            items.append(_Fence(line.rstrip(), tuple(body), closing.rstrip() or marker))
            paragraph_lines = 0
            i += 1
            continue
        atx = _ATX.match(line)
        if atx:
            heading_text = _clean_heading(atx.group(2))
            if heading_text:
                items.append(Heading(len(atx.group(1)), heading_text, i))
            paragraph_lines = 0
            i += 1
            continue
        setext = _SETEXT.match(line)
        previous = items[-1] if items else None
        if setext and paragraph_lines == 1 and isinstance(previous, str):
            level = 1 if setext.group(1)[0] == "=" else 2
            items[-1] = Heading(level, _clean_heading(previous), i)
            paragraph_lines = 0
            i += 1
            continue
        if line.strip():
            paragraph_lines = paragraph_lines + 1 if not _NOT_SETEXT_TEXT.match(line) else 2
        else:
            paragraph_lines = 0
        items.append(line.rstrip())
        i += 1
    return items


def markdown_headings(text: str) -> list[Heading]:
    """Headings of a Markdown text (ATX and setext), ignoring `#` lines inside code fences."""
    return [item for item in _scan(text) if isinstance(item, Heading)]


@dataclass
class Section:
    """The text under one heading (up to the next heading), with its heading path."""

    path: list[str]
    blocks: list[str | _Fence] = field(default_factory=list)

    @property
    def body(self) -> str:
        """The section text without its heading line."""
        return "\n\n".join(b if isinstance(b, str) else b.render() for b in self.blocks)


def markdown_sections(text: str, *, title: str = "") -> list[Section]:
    """Non-empty sections of a Markdown text, in order, with their heading paths.

    `title` is the root of every path when the text has no H1, and the path of any text
    before the first heading.
    """
    items = _scan(text)
    title = " ".join(title.split())
    has_h1 = any(isinstance(item, Heading) and item.level == 1 for item in items)
    root = [title] if title else []
    stack: list[Heading] = []
    sections: list[Section] = []
    current = Section(path=list(root))
    paragraph: list[str] = []

    def end_paragraph() -> None:
        if paragraph:
            current.blocks.append("\n".join(paragraph))
            paragraph.clear()

    for item in items:
        if isinstance(item, Heading):
            end_paragraph()
            if current.blocks:
                sections.append(current)
            while stack and stack[-1].level >= item.level:
                stack.pop()
            stack.append(item)
            path = [h.text for h in stack]
            current = Section(path=path if has_h1 else [*root, *path])
        elif isinstance(item, _Fence):
            end_paragraph()
            current.blocks.append(item)
        elif item.strip():
            paragraph.append(item)
        else:
            end_paragraph()
    end_paragraph()
    if current.blocks:
        sections.append(current)
    return sections


@dataclass(frozen=True)
class _Unit:
    """A piece of a section that is never cut further; `sep` joins it to what precedes it."""

    text: str
    sep: str


class _Chunker:
    def __init__(self, counter: TokenCounter, max_tokens: int, overlap_tokens: int) -> None:
        self.counter = counter
        self.max_tokens = max_tokens
        self.overlap = overlap_tokens

    def header(self, path: list[str]) -> str:
        """The heading path line that opens a chunk, shortened if it would crowd out the text."""
        if not path:
            return ""
        line = _PATH_SEP.join(path)
        limit = self.max_tokens // 2
        if self.counter.count(line) > limit:
            line = self.counter.truncate(line, limit).rstrip()
        return line

    def fits(self, header: str, body: str) -> bool:
        return self.counter.count(_join(header, body)) <= self.max_tokens

    def section_pieces(self, header: str, section: Section) -> list[str]:
        """Bodies of the chunks of one section, each fitting with its header."""
        budget = self.max_tokens - self.counter.count(_join(header, "x")) + 1
        overlap = min(self.overlap, budget // 3)
        units: list[_Unit] = []
        for block in section.blocks:
            units.extend(self.block_units(block, budget, overlap))
        return self.pack(header, units, overlap)

    def block_units(self, block: str | _Fence, budget: int, overlap: int) -> list[_Unit]:
        """A block as units small enough to pack (code fences whole whenever they fit)."""
        if isinstance(block, _Fence):
            rendered = block.render()
            if self.counter.count(rendered) <= budget:
                return [_Unit(rendered, "\n\n")]
            return self.fence_units(block, budget)
        # Text units leave room for the overlap carried in from the previous piece.
        limit = max(budget - overlap - 2, 4)
        if self.counter.count(block) <= limit:
            return [_Unit(block, "\n\n")]
        units: list[_Unit] = []
        sep = "\n\n"
        pos = 0
        for cut in [*_TEXT_CUT.finditer(block), None]:
            end = cut.start() if cut else len(block)
            piece = block[pos:end]
            if piece.strip():
                for k, window in enumerate(self.counter.split(piece, limit)):
                    units.append(_Unit(window, sep if k == 0 else ""))
                sep = ""
            if cut is not None:
                sep += cut.group()
                pos = cut.end()
        return units

    def fence_units(self, fence: _Fence, budget: int) -> list[_Unit]:
        """An oversized code block cut on line boundaries, each part fenced again."""
        wrap = self.counter.count(f"{fence.opening}\n\n{fence.closing}") + 2
        limit = max(budget - wrap, 4)
        groups: list[list[str]] = []
        current: list[str] = []
        for line in fence.lines:
            candidate = "\n".join([*current, line])
            if current and self.counter.count(candidate) > limit:
                groups.append(current)
                current = []
            if self.counter.count(line) > limit:
                groups.extend([w] for w in self.counter.split(line, limit))
                continue
            current.append(line)
        if current:
            groups.append(current)
        return [
            _Unit(_Fence(fence.opening, tuple(g), fence.closing).render(), "\n\n") for g in groups
        ]

    def overlap_tail(self, body: str, overlap: int) -> str:
        """The end of a piece repeated at the start of the next, starting on a word."""
        if overlap <= 0:
            return ""
        tail = self.counter.tail(body, overlap)
        if len(tail) < len(body) and not body[-len(tail) - 1].isspace() and tail[:1].strip():
            # Cut landed inside a word: start at the next word instead.
            match = re.search(r"\s", tail)
            tail = tail[match.start() :] if match else ""
        # Half a code fence would confuse the reader of the next chunk; keep only what follows it.
        fence_lines = list(re.finditer(r"(?m)^ {0,3}(?:`{3,}|~{3,}).*$", tail))
        if fence_lines:
            tail = tail[fence_lines[-1].end() :]
        return tail.lstrip()

    def pack(self, header: str, units: list[_Unit], overlap: int) -> list[str]:
        """Greedily pack units into chunk bodies; consecutive bodies overlap."""
        pieces: list[str] = []
        body = ""
        fresh = False  # body holds more than the overlap carried from the previous piece
        for unit in units:
            candidate = body + unit.sep + unit.text if body else unit.text
            if self.fits(header, candidate):
                body, fresh = candidate, True
                continue
            if fresh:
                pieces.append(body)
                tail = self.overlap_tail(body, overlap)
                body = tail + unit.sep + unit.text if tail else unit.text
            else:
                body = unit.text
            if not self.fits(header, body):
                body = unit.text
            if not self.fits(header, body):
                # Token counts do not add up exactly across joins; cut what still overflows.
                limit = self.max_tokens - self.counter.count(_join(header, "x"))
                *whole, body = self.hard_split(header, body, max(limit, 1))
                pieces.extend(whole)
            fresh = True
        if fresh and body.strip():
            pieces.append(body)
        return pieces

    def hard_split(self, header: str, body: str, limit: int) -> list[str]:
        """Token windows of `body` that fit with the header (the last resort)."""
        while True:
            windows = self.counter.split(body, limit)
            if all(self.fits(header, w) for w in windows) or limit <= 1:
                return windows
            limit -= 1

    def render_group(self, group: list[Section]) -> tuple[list[str], str]:
        """Heading path and body of several small sections merged into one chunk."""
        common = _common_prefix([s.path for s in group])
        parts: list[str] = []
        previous: list[str] = []
        for section in group:
            relative = section.path[len(common) :]
            for depth, name in enumerate(relative):
                if depth < len(previous) and previous[: depth + 1] == relative[: depth + 1]:
                    continue
                parts.append(f"{'#' * (len(common) + depth + 1)} {name}")
            previous = relative
            parts.append(section.body)
        return common, "\n\n".join(parts)


def _join(header: str, body: str) -> str:
    return f"{header}\n\n{body}" if header else body


def _common_prefix(paths: list[list[str]]) -> list[str]:
    prefix = list(paths[0])
    for path in paths[1:]:
        n = 0
        while n < min(len(prefix), len(path)) and prefix[n] == path[n]:
            n += 1
        prefix = prefix[:n]
    return prefix


def _may_merge(group_path: list[str], path: list[str]) -> bool:
    # Merge only siblings, or a parent's own text with its children: the merged heading
    # path may rise at most one level above either side.
    common = _common_prefix([group_path, path])
    return len(common) >= len(path) - 1 and len(common) >= len(group_path) - 1


def chunk_markdown(
    doc_id: str,
    text: str,
    *,
    title: str = "",
    max_tokens: int,
    overlap_tokens: int,
    counter: TokenCounter,
    merge_below: int | None = None,
    kind: DocKind = "runbook",
) -> list[Chunk]:
    """Cut a Markdown document into heading-aware chunks of at most `max_tokens` tokens.

    Each chunk text opens with its heading path line. Sections too big for one chunk are cut
    on paragraph, then sentence or line, then token boundaries, consecutive pieces sharing
    about `overlap_tokens` tokens; code fences stay whole when they fit. Adjacent sections
    under the same parent are merged while one side is smaller than `merge_below` tokens
    (default: a quarter of `max_tokens`) and the result fits.
    """
    if max_tokens < _MIN_MAX_TOKENS:
        raise ValueError(f"max_tokens must be at least {_MIN_MAX_TOKENS}, got {max_tokens}")
    if overlap_tokens < 0:
        raise ValueError("overlap_tokens must not be negative")
    small = max_tokens // 4 if merge_below is None else merge_below
    chunker = _Chunker(counter, max_tokens, overlap_tokens)

    # (heading path, body) of every chunk, in document order.
    planned: list[tuple[list[str], str]] = []
    group: list[Section] = []
    group_tokens = 0

    def flush_group() -> None:
        if group:
            planned.append(chunker.render_group(group))
            group.clear()

    for section in markdown_sections(text, title=title):
        header = chunker.header(section.path)
        tokens = counter.count(_join(header, section.body))
        if tokens > max_tokens:
            flush_group()
            planned.extend(
                (section.path, piece) for piece in chunker.section_pieces(header, section)
            )
            continue
        if group and (group_tokens < small or tokens < small):
            path, _ = chunker.render_group(group)
            if _may_merge(path, section.path):
                merged_path, merged_body = chunker.render_group([*group, section])
                merged = counter.count(_join(chunker.header(merged_path), merged_body))
                if merged <= max_tokens:
                    group.append(section)
                    group_tokens = merged
                    continue
        flush_group()
        group.append(section)
        group_tokens = tokens
    flush_group()

    chunks: list[Chunk] = []
    for path, body in planned:
        header = chunker.header(path)
        for piece in _ensure_fits(chunker, header, body):
            full = _join(header, piece)
            chunks.append(
                Chunk(
                    id=f"{doc_id}#{len(chunks)}",
                    doc_id=doc_id,
                    kind=kind,
                    ordinal=len(chunks),
                    heading_path=list(path),
                    text=full,
                    token_count=counter.count(full),
                )
            )
    return chunks


def _ensure_fits(chunker: _Chunker, header: str, body: str) -> list[str]:
    if chunker.fits(header, body):
        return [body]
    limit = chunker.max_tokens - chunker.counter.count(_join(header, "x"))
    return chunker.hard_split(header, body, max(limit, 1))
