"""HTML pages reduced to clean Markdown-ish text that keeps their structure for chunking."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

# Never content: code, styling, site chrome.
_DROP = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "footer",
        "svg",
        "canvas",
        "iframe",
        "object",
        "embed",
        "button",
        "select",
        "head",
        "-comment",
    }
)
_DROP_ROLES = frozenset({"navigation", "contentinfo", "banner", "search"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_LISTS = frozenset({"ul", "ol", "menu"})
# Elements that start a new block; anything else is rendered inline.
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "form",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        *_HEADINGS,
        *_LISTS,
    }
)
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_LANGUAGE = re.compile(r"(?:language|lang|highlight)-([\w+#.-]+)")


def html_to_markdown(html: str) -> tuple[str, str | None]:
    """Clean text of an HTML page with Markdown headings, lists and code fences; and its title.

    The title is the first `<h1>` of the page's content, else `<title>` (which often carries
    a site-name suffix), else any `<h1>`.
    """
    tree = LexborHTMLParser(html)
    root = _content_root(tree)
    title = _title(tree, root)
    if root is None:
        return "", title
    blocks = _Renderer().blocks(root)
    text = "\n\n".join(b for b in blocks if b.strip())
    return text.strip(), title


def _title(tree: LexborHTMLParser, root: LexborNode | None) -> str | None:
    candidates = [
        root.css_first("h1") if root is not None else None,
        tree.css_first("title"),
        tree.css_first("h1"),
    ]
    for node in candidates:
        if node is not None:
            text = _collapse(node.text(deep=True))
            if text:
                return text
    return None


def _content_root(tree: LexborHTMLParser) -> LexborNode | None:
    # Prefer the page's main content when it says where it is; else the whole body.
    for selector in ("main", "[role=main]"):
        node = tree.css_first(selector)
        if node is not None:
            return node
    articles = tree.css("article")
    if len(articles) == 1:
        return articles[0]
    return tree.body or tree.root


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _dropped(node: LexborNode) -> bool:
    if node.tag in _DROP:
        return True
    attrs = node.attributes
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    return (attrs.get("role") or "").lower() in _DROP_ROLES


def _children(node: LexborNode) -> list[LexborNode]:
    out = []
    child = node.child
    while child is not None:
        out.append(child)
        child = child.next
    return out


class _Renderer:
    """Walks the DOM once, emitting Markdown blocks."""

    def blocks(self, node: LexborNode) -> list[str]:
        """Markdown blocks of the children of a block-level node."""
        out: list[str] = []
        inline: list[str] = []

        def flush() -> None:
            text = _tidy_inline("".join(inline))
            inline.clear()
            if text:
                out.append(text)

        for child in _children(node):
            if _dropped(child):
                continue
            tag = child.tag
            if tag == "-text" or tag not in _BLOCKS:
                inline.append(self.inline(child))
                continue
            flush()
            out.extend(self.block(child))
        flush()
        return out

    def block(self, node: LexborNode) -> list[str]:
        """Markdown blocks of one block-level element."""
        tag = node.tag or ""
        if tag in _HEADINGS:
            text = _collapse(self.inline_children(node))
            return [f"{'#' * _HEADINGS[tag]} {text}"] if text else []
        if tag == "pre":
            return [_fence(node)]
        if tag in _LISTS:
            return self.list_block(node)
        if tag == "table":
            return self.table(node)
        if tag == "hr":
            return []
        if tag == "blockquote":
            inner = "\n\n".join(self.blocks(node))
            return ["\n".join(f"> {line}".rstrip() for line in inner.splitlines())] if inner else []
        return self.blocks(node)

    def list_block(self, node: LexborNode) -> list[str]:
        """A list as `- ` items; nested lists are indented under their item."""
        lines: list[str] = []
        for item in _children(node):
            if _dropped(item) or item.tag == "-text":
                continue
            parts = self.blocks(item) if item.tag == "li" else self.block(item)
            body = "\n".join(parts).strip("\n")
            if not body:
                continue
            first, *rest = body.splitlines()
            lines.append(f"- {first}")
            lines.extend(f"  {line}" if line else "" for line in rest)
        return ["\n".join(lines)] if lines else []

    def table(self, node: LexborNode) -> list[str]:
        """A table as one `cell | cell` line per row."""
        rows = []
        for row in node.css("tr"):
            cells = [
                _collapse(self.inline_children(cell))
                for cell in _children(row)
                if cell.tag in ("td", "th")
            ]
            if any(cells):
                rows.append(" | ".join(cells))
        return ["\n".join(rows)] if rows else []

    def inline(self, node: LexborNode) -> str:
        """Inline text of a node, with code spans and line breaks kept."""
        tag = node.tag
        if tag == "-text":
            # Source line breaks are just spaces; only <br> breaks a line.
            return _SPACES.sub(" ", node.text(deep=False))
        if _dropped(node):
            return ""
        if tag == "br":
            return "\n"
        if tag == "img":
            return node.attributes.get("alt") or ""
        if tag == "code":
            code = _collapse(node.text(deep=True))
            return f"`{code}`" if code else ""
        if tag in _BLOCKS:
            # Block inside inline content (invalid, but common): keep it on its own line.
            return "\n" + "\n\n".join(self.block(node)) + "\n"
        return self.inline_children(node)

    def inline_children(self, node: LexborNode) -> str:
        """Concatenated inline text of a node's children."""
        return "".join(self.inline(child) for child in _children(node))


def _tidy_inline(text: str) -> str:
    # Collapse runs of spaces but keep the explicit line breaks from <br>.
    lines = [_collapse(line) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _fence(node: LexborNode) -> str:
    code = node.text(deep=True).strip("\n")
    language = ""
    for candidate in (node, node.css_first("code")):
        if candidate is None:
            continue
        match = _LANGUAGE.search(candidate.attributes.get("class") or "")
        if match:
            language = match.group(1)
            break
    # A longer fence than any backtick run inside keeps the block closed where it should be.
    longest = max((len(m) for m in re.findall(r"`{3,}", code)), default=2)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code}\n{fence}"
