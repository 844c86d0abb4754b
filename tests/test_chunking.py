"""Heading-aware chunking and tiktoken token counting."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from casetext.tokens import TokenCounter
from core.errors import ConfigError
from kb_ingest.chunking import chunk_markdown, markdown_headings, markdown_sections


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter("cl100k_base")


def _body(chunk_text: str) -> str:
    """A chunk's text without its heading path line."""
    return chunk_text.split("\n\n", 1)[1]


_WORDS = [
    *("alpha", "beta", "gamma", "delta", "pod", "node", "disk", "memory", "kubelet", "etcd"),
    *("leader", "quorum", "latency", "timeout", "restart", "volume", "mount", "inode"),
    *("cluster", "replica", "shard", "index", "query", "cache", "network", "packet"),
    *("route", "proxy", "certificate", "token", "secret", "config", "deploy", "rollout"),
]


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


# --- TokenCounter -----------------------------------------------------------------------


def test_counter_counts_encodes_and_decodes(counter: TokenCounter) -> None:
    text = "etcd cluster has no leader: 3 members down ✓ 日本語"
    tokens = counter.encode(text)
    assert counter.count(text) == len(tokens) > 5
    assert counter.decode(tokens) == text
    assert counter.count("") == 0


def test_counter_treats_special_token_markers_as_text(counter: TokenCounter) -> None:
    # Untrusted ticket text may contain them; encoding must not raise.
    assert counter.count("before <|endoftext|> after") > 3


def test_truncate_and_tail_respect_the_limit(counter: TokenCounter) -> None:
    text = " ".join(f"word{i}" for i in range(200)) + " 🎉🎉🎉 終わり"
    for limit in (1, 5, 17, 64):
        head = counter.truncate(text, limit)
        tail = counter.tail(text, limit)
        assert text.startswith(head) and head
        assert text.endswith(tail) and tail
        assert counter.count(head) <= limit
        assert counter.count(tail) <= limit
    assert counter.truncate("short", 50) == "short"
    assert counter.truncate("short", 0) == ""


def test_split_covers_the_text_with_overlap(counter: TokenCounter) -> None:
    text = "".join(f"seg{i}-é-🙂-{'x' * (i % 7)} " for i in range(300))
    pieces = counter.split(text, 40, overlap_tokens=8)
    assert len(pieces) > 3
    assert all(counter.count(p) <= 40 for p in pieces)
    assert all(p in text for p in pieces)
    no_overlap = counter.split(text, 40)
    assert "".join(no_overlap) == text
    for a, b in itertools.pairwise(pieces):
        # The next piece starts inside the previous one.
        assert any(a.endswith(b[:k]) for k in range(1, len(b)))


def test_unknown_encoding_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        TokenCounter("no_such_encoding").count("x")


# --- headings and sections --------------------------------------------------------------


def test_headings_ignore_code_fences_and_read_setext() -> None:
    text = (
        "Intro paragraph\n\n"
        "Guide\n=====\n\n"
        "```shell\n# not a heading\n## nor this\n```\n\n"
        "Setup\n-----\n\n"
        "#hashtag is text\n\n"
        "### Check `etcd` health ###\n"
        "~~~\n# still code\n~~~\n"
        "    # indented code, not a heading\n"
    )
    headings = [(h.level, h.text) for h in markdown_headings(text)]
    assert headings == [(1, "Guide"), (2, "Setup"), (3, "Check `etcd` health")]


def test_rule_under_a_multi_line_paragraph_is_not_a_heading() -> None:
    text = "first line\nsecond line\n---\n\n- item\n---\n"
    assert markdown_headings(text) == []


def test_unclosed_fence_swallows_the_rest() -> None:
    assert markdown_headings("# A\n```\n# B\n") == [markdown_headings("# A")[0]]


def test_section_paths_follow_the_heading_tree() -> None:
    text = (
        "Preamble text.\n\n"
        "# etcd\n\nIntro.\n\n"
        "## Diagnosis\n\n"
        "### Check member health\n\nRun it.\n\n"
        "## Mitigation\n\nRestart.\n\n"
        "# Appendix\n\nMore.\n"
    )
    paths = [s.path for s in markdown_sections(text, title="etcd runbook")]
    assert paths == [
        ["etcd runbook"],
        ["etcd"],
        ["etcd", "Diagnosis", "Check member health"],
        ["etcd", "Mitigation"],
        ["Appendix"],
    ]


def test_title_is_the_root_when_there_is_no_h1() -> None:
    text = "## Meaning\n\nA.\n\n### Detail\n\nB.\n\n## Impact\n\nC.\n"
    paths = [s.path for s in markdown_sections(text, title="KubePodCrashLooping")]
    assert paths == [
        ["KubePodCrashLooping", "Meaning"],
        ["KubePodCrashLooping", "Meaning", "Detail"],
        ["KubePodCrashLooping", "Impact"],
    ]
    assert markdown_sections(text)[0].path == ["Meaning"]


# --- chunk_markdown ---------------------------------------------------------------------


def test_chunks_carry_heading_path_line_and_ids(counter: TokenCounter) -> None:
    text = (
        "# etcd\n\n## Diagnosis\n\n### Check member health\n\n"
        + " ".join(_sentence(random.Random(1), 10) for _ in range(4))
        + "\n\n## Mitigation\n\n"
        + " ".join(_sentence(random.Random(2), 10) for _ in range(4))
    )
    chunks = chunk_markdown(
        "etcd/members", text, max_tokens=120, overlap_tokens=10, counter=counter, merge_below=0
    )
    assert [c.heading_path for c in chunks] == [
        ["etcd", "Diagnosis", "Check member health"],
        ["etcd", "Mitigation"],
    ]
    assert chunks[0].text.startswith("etcd > Diagnosis > Check member health\n\n")
    assert chunks[0].heading == "etcd > Diagnosis > Check member health"
    assert [c.id for c in chunks] == ["etcd/members#0", "etcd/members#1"]
    assert [c.ordinal for c in chunks] == [0, 1]
    assert all(c.kind == "runbook" and c.doc_id == "etcd/members" for c in chunks)
    assert all(c.token_count == counter.count(c.text) for c in chunks)


def test_empty_documents_give_no_chunks(counter: TokenCounter) -> None:
    for text in ("", "   \n\n", "# Only a heading\n\n## And another\n"):
        assert chunk_markdown("d", text, max_tokens=64, overlap_tokens=8, counter=counter) == []


def test_oversize_section_is_split_with_overlap(counter: TokenCounter) -> None:
    rng = random.Random(7)
    sentences = [f"Step {i} says {_sentence(rng, 9)}" for i in range(40)]
    paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, 40, 5)]
    text = "# Runbook\n\n## Diagnosis\n\n" + "\n\n".join(paragraphs)
    chunks = chunk_markdown("rb", text, max_tokens=80, overlap_tokens=20, counter=counter)

    assert len(chunks) > 4
    assert all(c.heading_path == ["Runbook", "Diagnosis"] for c in chunks)
    assert all(c.token_count <= 80 for c in chunks)
    bodies = [_body(c.text) for c in chunks]
    for previous, current in itertools.pairwise(bodies):
        shared = max(
            (k for k in range(1, len(current) + 1) if previous.endswith(current[:k])), default=0
        )
        assert shared > 0, "consecutive pieces of a section must overlap"
        assert counter.count(current[:shared]) <= 20 + 2
    # Nothing is lost: every sentence lands whole in some chunk (units are sentences here).
    for sentence in sentences:
        assert any(sentence in body for body in bodies), sentence


def test_no_overlap_when_overlap_is_zero(counter: TokenCounter) -> None:
    rng = random.Random(3)
    text = "## S\n\n" + " ".join(_sentence(rng, 8) for _ in range(60))
    chunks = chunk_markdown("d", text, max_tokens=60, overlap_tokens=0, counter=counter)
    bodies = [_body(c.text) for c in chunks]
    assert " ".join(bodies) == text.split("\n\n", 1)[1]


def test_code_fence_is_kept_whole_when_it_fits(counter: TokenCounter) -> None:
    rng = random.Random(11)
    code = "```shell\n" + "\n".join(f"$ kubectl get pods -n ns{i}" for i in range(6)) + "\n```"
    prose = " ".join(_sentence(rng, 10) for _ in range(6))
    text = f"# Doc\n\n## Fix\n\n{prose}\n\n{code}\n\n{prose}"
    chunks = chunk_markdown("d", text, max_tokens=110, overlap_tokens=15, counter=counter)
    assert len(chunks) > 1
    holding = [c for c in chunks if "kubectl get pods -n ns0" in c.text]
    assert len(holding) == 1 and code in holding[0].text
    assert all(c.text.count("```") % 2 == 0 for c in chunks)


def test_oversize_code_fence_is_cut_on_lines_and_refenced(counter: TokenCounter) -> None:
    lines = [f"echo line number {i} of the very long script" for i in range(80)]
    text = "## Script\n\n```bash\n" + "\n".join(lines) + "\n```\n"
    chunks = chunk_markdown("d", text, max_tokens=64, overlap_tokens=10, counter=counter)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.token_count <= 64
        assert chunk.text.count("```") % 2 == 0
        assert "```bash" in chunk.text
    for line in lines:
        assert any(line in c.text.splitlines() for c in chunks)


def test_tiny_sibling_sections_merge_under_their_parent(counter: TokenCounter) -> None:
    text = (
        "# PrometheusOperatorSyncFailed\n\n"
        "## Meaning\n\nLast reconciliation failed.\n\n"
        "## Impact\n\nChanges cannot be deployed.\n\n"
        "## Diagnosis\n\nCheck the operator logs.\n"
    )
    chunks = chunk_markdown("p", text, max_tokens=200, overlap_tokens=20, counter=counter)
    assert len(chunks) == 1
    chunk = chunks[0]
    assert chunk.heading_path == ["PrometheusOperatorSyncFailed"]
    assert chunk.text.startswith("PrometheusOperatorSyncFailed\n\n## Meaning\n\nLast")
    assert "## Impact\n\nChanges" in chunk.text and "## Diagnosis" in chunk.text

    unmerged = chunk_markdown(
        "p", text, max_tokens=200, overlap_tokens=20, counter=counter, merge_below=0
    )
    assert [c.heading_path[-1] for c in unmerged] == ["Meaning", "Impact", "Diagnosis"]


def test_cousin_sections_do_not_merge(counter: TokenCounter) -> None:
    text = "# R\n\n## A\n\n### x\n\nTiny one.\n\n## B\n\n### y\n\nTiny two.\n"
    chunks = chunk_markdown("d", text, max_tokens=200, overlap_tokens=0, counter=counter)
    assert [c.heading_path for c in chunks] == [["R", "A", "x"], ["R", "B", "y"]]


def test_merge_stops_at_the_limit(counter: TokenCounter) -> None:
    rng = random.Random(5)
    parts = [f"## Part {i}\n\n{_sentence(rng, 6)}" for i in range(30)]
    text = "# Doc\n\n" + "\n\n".join(parts)
    chunks = chunk_markdown("d", text, max_tokens=60, overlap_tokens=0, counter=counter)
    assert 1 < len(chunks) < 30
    assert all(c.token_count <= 60 for c in chunks)
    joined = "\n".join(c.text for c in chunks)
    assert all(f"Part {i}" in joined for i in range(30))


def test_chunking_is_deterministic_and_handles_crlf(counter: TokenCounter) -> None:
    text = "# T\r\n\r\n## A\r\n\r\nLine one.\r\nLine two.\r\n\r\n## B\r\n\r\nMore text.\r\n"
    first = chunk_markdown("x", text, max_tokens=32, overlap_tokens=4, counter=counter)
    second = chunk_markdown("x", text, max_tokens=32, overlap_tokens=4, counter=counter)
    assert first == second
    assert all("\r" not in c.text for c in first)
    assert first[0].heading_path[0] == "T"


def test_long_heading_path_never_breaks_the_limit(counter: TokenCounter) -> None:
    long_heading = " ".join(["verylongheadingword"] * 60)
    text = f"# {long_heading}\n\n## {long_heading}\n\nSome body text here."
    chunks = chunk_markdown("d", text, max_tokens=32, overlap_tokens=4, counter=counter)
    assert chunks and all(c.token_count <= 32 for c in chunks)
    assert chunks[0].heading_path == [long_heading, long_heading]
    assert "Some body text here." in "".join(c.text for c in chunks)


def test_rejects_a_tiny_limit(counter: TokenCounter) -> None:
    with pytest.raises(ValueError):
        chunk_markdown("d", "text", max_tokens=4, overlap_tokens=0, counter=counter)


def _random_doc(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(0, 12)):
        roll = rng.random()
        if roll < 0.25:
            parts.append("#" * rng.randint(1, 4) + " " + " ".join(rng.sample(_WORDS, 2)))
        elif roll < 0.35:
            parts.append(rng.choice(_WORDS).title() + "\n" + rng.choice(["===", "---"]))
        elif roll < 0.5:
            lang = rng.choice(["", "shell", "yaml"])
            body = "\n".join(
                "  " * rng.randint(0, 2) + " ".join(rng.choices(_WORDS, k=rng.randint(1, 12)))
                for _ in range(rng.randint(1, 25))
            )
            parts.append(f"```{lang}\n# comment\n{body}\n```")
        elif roll < 0.6:
            # Unbreakable runs: no spaces, mixed scripts and emoji.
            parts.append("".join(rng.choices("abc/._-=é漢字🙂0123456789", k=rng.randint(50, 900))))
        elif roll < 0.7:
            parts.append("\n".join(f"- {_sentence(rng, rng.randint(2, 9))}" for _ in range(8)))
        else:
            parts.append(
                " ".join(_sentence(rng, rng.randint(3, 14)) for _ in range(rng.randint(1, 15)))
            )
    return "\n\n".join(parts)


def test_limit_never_exceeded_on_random_documents(counter: TokenCounter) -> None:
    rng = random.Random(20240601)
    for round_ in range(120):
        text = _random_doc(rng)
        max_tokens = rng.choice([8, 12, 16, 24, 40, 64, 100, 200])
        overlap = rng.randint(0, max_tokens // 2)
        title = rng.choice(["", "Random doc", "A much longer title for this random doc"])
        chunks = chunk_markdown(
            f"doc{round_}",
            text,
            title=title,
            max_tokens=max_tokens,
            overlap_tokens=overlap,
            counter=counter,
        )
        for ordinal, chunk in enumerate(chunks):
            assert chunk.token_count == counter.count(chunk.text) <= max_tokens, (round_, chunk)
            assert chunk.id == f"doc{round_}#{ordinal}" and chunk.ordinal == ordinal
            assert chunk.text.strip()
            if chunk.heading_path and max_tokens >= 40:
                assert chunk.text.startswith(chunk.heading.split(" > ")[0][:10])
        if max_tokens >= 64:
            # Every prose sentence survives somewhere (they are the smallest cut units).
            joined = "\n".join(chunks_text.text for chunks_text in chunks)
            for sentence in re.findall(r"(?m)(?<=[.] )[A-Z][a-z]+(?: [a-z]+)+\.", text):
                assert sentence in joined, (round_, sentence)
