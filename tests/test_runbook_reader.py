"""Runbook folders: Markdown with YAML/TOML front matter, HTML pages, bad files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.domain import Runbook
from core.errors import IngestError, RecordError
from kb_ingest.html_text import html_to_markdown
from kb_ingest.runbook_reader import read_runbooks, split_front_matter


def _write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _runbooks(root: Path, **kwargs: bool) -> list[Runbook]:
    out = []
    for item in read_runbooks(root, **kwargs):
        assert isinstance(item, Runbook), item
        out.append(item)
    return out


HUGO = """---
title: Etcd Members Down
weight: 20
tags: [etcd, quorum]
aliases:
  - /etcdmembersdown/
---

# etcdMembersDown

## Meaning

One or more members are down. See [NoLeader]({{< ref "./etcdNoLeader.md" >}}).

```shell
# list members
etcdctl member list
```
"""


def test_hugo_yaml_front_matter(tmp_path: Path) -> None:
    _write(tmp_path, "etcd/etcdMembersDown.md", HUGO)
    [runbook] = _runbooks(tmp_path)
    assert runbook.id == "etcd/etcdMembersDown"
    assert runbook.title == "Etcd Members Down"
    assert runbook.tags == ["etcd", "quorum"]
    assert runbook.source == "etcd/etcdMembersDown.md"
    assert runbook.body.startswith("# etcdMembersDown\n\n## Meaning")
    assert "---" not in runbook.body and "weight" not in runbook.body
    # Shortcodes are resolved to their target; the code comment stays code.
    assert "(./etcdNoLeader.md)" in runbook.body and "{{<" not in runbook.body
    assert "# list members" in runbook.body
    assert runbook.metadata["weight"] == 20
    assert runbook.metadata["aliases"] == ["/etcdmembersdown/"]
    assert runbook.metadata["heading"] == "etcdMembersDown"
    json.dumps(runbook.metadata)


def test_toml_front_matter_with_overrides(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "guides/disk.markdown",
        '+++\nid = "kb-42"\ntitle = "Disk full"\ncategories = ["storage"]\n'
        'keywords = "disk, inode , storage"\nproduct = "Nodes"\n'
        'url = "https://kb.example/disk"\ndate = 2024-03-01T10:00:00Z\n'
        '[extra]\nowner = "sre"\n+++\n\nBody text.\n',
    )
    [runbook] = _runbooks(tmp_path)
    assert runbook.id == "kb-42"
    assert runbook.title == "Disk full"
    assert runbook.tags == ["storage", "disk", "inode"]
    assert runbook.product == "Nodes"
    assert runbook.source == "https://kb.example/disk"
    assert runbook.updated_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert runbook.metadata["extra"] == {"owner": "sre"}
    assert runbook.body == "Body text."


def test_title_falls_back_to_first_h1_then_stem(tmp_path: Path) -> None:
    _write(tmp_path, "a.md", "```sh\n# not the title\n```\n\nReal Title\n==========\n\nText.\n")
    _write(tmp_path, "b.md", "## Only a subheading\n\nText.\n")
    first, second = _runbooks(tmp_path)
    assert first.title == "Real Title"
    assert second.title == "b"


def test_walk_is_sorted_and_filters_files(tmp_path: Path) -> None:
    for name in ("z.md", "a/b.md", "a/a.htm", "m.html", "notes.txt", "README", ".hidden/x.md"):
        _write(tmp_path, name, "<h1>T</h1><p>x</p>" if "htm" in name else "# T\n\nx\n")
    ids = [r.id for r in _runbooks(tmp_path)]
    assert ids == ["a/a", "a/b", "m", "z"]


def test_empty_pages_are_skipped_unless_asked(tmp_path: Path) -> None:
    _write(tmp_path, "_index.md", "---\nbookHidden: true\n---\n")
    _write(tmp_path, "node/_index.md", "---\ntitle: node\n---\n\n")
    _write(tmp_path, "node/Real.md", "# Real\n\nText.\n")
    assert [r.id for r in _runbooks(tmp_path)] == ["node/Real"]
    assert [r.id for r in _runbooks(tmp_path, skip_empty=False)] == [
        "_index",
        "node/Real",
        "node/_index",
    ]


def test_bad_files_are_reported_and_the_walk_goes_on(tmp_path: Path) -> None:
    _write(tmp_path, "a_bad_yaml.md", "---\ntitle: [unclosed\n---\n\nText\n")
    _write(tmp_path, "b_latin1.md", "# Caf\xe9\n".encode("latin-1"))
    _write(tmp_path, "c_list.md", "---\n- just\n- a list\n---\n\nText\n")
    _write(tmp_path, "d_toml.md", "+++\ntitle = \n+++\nText\n")
    _write(tmp_path, "e_good.md", "# Good\n\nText.\n")
    items = list(read_runbooks(tmp_path))
    errors = [i for i in items if isinstance(i, RecordError)]
    assert [e.location for e in errors] == [
        "a_bad_yaml.md",
        "b_latin1.md",
        "c_list.md",
        "d_toml.md",
    ]
    assert [i.id for i in items if isinstance(i, Runbook)] == ["e_good"]


def test_bom_and_crlf(tmp_path: Path) -> None:
    _write(tmp_path, "w.md", "\ufeff---\r\ntitle: Windows\r\n---\r\n\r\n# H\r\n\r\nText\r\n")
    [runbook] = _runbooks(tmp_path)
    assert runbook.title == "Windows"
    assert runbook.body.replace("\r", "").startswith("# H")


def test_single_file_and_missing_root(tmp_path: Path) -> None:
    path = _write(tmp_path, "one.md", "# One\n\nText\n")
    assert [r.id for r in _runbooks(path)] == ["one"]
    with pytest.raises(IngestError):
        list(read_runbooks(tmp_path / "nope"))


def test_leading_rule_without_closing_is_not_front_matter() -> None:
    front, body = split_front_matter("---\n\nJust a rule and text.\n")
    assert front == {}
    assert body.startswith("---")


def test_html_runbook(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "kb/disk.html",
        "<html><head><title>Disk pressure</title><script>track()</script></head><body>"
        "<nav>Home | Docs</nav><main><h1>Disk pressure</h1><p>The node is\n full.</p>"
        "<h2>Fix</h2><ul><li>Prune images</li><li>Rotate logs</li></ul>"
        "<pre><code class='language-sh'>crictl rmi --prune</code></pre></main>"
        "<footer>© Example</footer></body></html>",
    )
    [runbook] = _runbooks(tmp_path)
    assert runbook.id == "kb/disk"
    assert runbook.title == "Disk pressure"
    assert runbook.metadata["format"] == "html"
    assert runbook.body == (
        "# Disk pressure\n\nThe node is full.\n\n## Fix\n\n- Prune images\n- Rotate logs\n\n"
        "```sh\ncrictl rmi --prune\n```"
    )


def test_html_to_markdown_structure() -> None:
    html = (
        "<body><header role='banner'>Site</header><h3>Steps</h3>"
        "<ol><li>One<ul><li>nested <code>a  b</code></li></ul></li><li>Two<br>lines</li></ol>"
        "<table><tr><th>k</th><th>v</th></tr><tr><td>cpu</td><td>90%</td></tr></table>"
        "<blockquote><p>Careful</p></blockquote><style>.x{}</style>"
        "<pre>if x:\n    print('```')\n</pre><div hidden>secret</div></body>"
    )
    text, title = html_to_markdown(html)
    assert title is None
    assert text == (
        "### Steps\n\n- One\n  - nested `a b`\n- Two\n  lines\n\nk | v\ncpu | 90%\n\n"
        "> Careful\n\n````\nif x:\n    print('```')\n````"
    )
