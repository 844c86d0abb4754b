"""Case readers: CSV with mappings, JSONL, and Zendesk / Jira / GitHub API JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from core.domain import Case
from core.errors import IngestError, MappingError, RecordError
from kb_ingest.case_mapping import (
    CaseMapping,
    load_mapping,
    load_preset,
    parse_datetime,
    preset_names,
)
from kb_ingest.case_readers import (
    PULL_REQUEST_SKIPPED,
    adf_to_text,
    read_cases,
    read_cases_csv,
    read_cases_jsonl,
    read_github_json,
    read_jira_json,
    read_zendesk_json,
)


def _split(items: Any) -> tuple[list[Case], list[RecordError]]:
    cases: list[Case] = []
    errors: list[RecordError] = []
    for item in items:
        (errors if isinstance(item, RecordError) else cases).append(item)
    return cases, errors


def _write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes((("\ufeff" if bom else "") + text).encode("utf-8"))
    return path


GITBUGS = (
    "Summary,Issue id,Status,Priority,Resolution,Created,Resolved,Affects Version/s,Description\r\n"
    "JAR conflict,13404344,Resolved,Blocker,Duplicate,30/Sep/21 17:20,20/Jul/22 20:51,2.9.2,"
    '"After an init action\r\n\r\nthe check ""fails"", see:\r\n# at end of script"\r\n'
    "Build broken,13400058,Open,Minor,,08/Sep/21 09:05,,,\r\n"
    "Bad date,13400001,Open,Major,,31/Foo/21 17:20,,,text\r\n"
    ",,Open,Major,,08/Sep/21 09:05,,,no id\r\n"
    "Too many,13400002,Open,Major,,08/Sep/21 09:05,,,a,b\r\n"
    "Last one,13400003,Closed,Trivial,Fixed,01/Jan/22 00:00,,3.3.1,fine\r\n"
)


# --- CSV ---------------------------------------------------------------------------------


def test_gitbugs_csv_with_jira_dates_multiline_and_bom(tmp_path: Path) -> None:
    path = _write(tmp_path / "bugs.csv", GITBUGS, bom=True)
    cases, errors = _split(read_cases_csv(path, "gitbugs"))

    assert [c.id for c in cases] == ["gitbugs-13404344", "gitbugs-13400058", "gitbugs-13400003"]
    first = cases[0]
    assert first.title == "JAR conflict"
    assert first.body == (
        'After an init action\n\nthe check "fails", see:\n# at end of script'
        "\n\nAffects Version/s: 2.9.2"
    )
    assert first.created_at == datetime(2021, 9, 30, 17, 20, tzinfo=UTC)
    assert (first.status, first.priority, first.resolution) == ("resolved", "P1", "Duplicate")
    assert first.metadata == {"Resolved": "20/Jul/22 20:51"}
    assert first.source == "gitbugs"
    assert (cases[1].status, cases[1].priority, cases[1].resolution) == ("open", "P3", None)
    assert cases[1].body == ""
    assert cases[2].priority == "P4" and cases[2].status == "closed"

    # Rows count records after the header, not physical lines (row 1 spans four lines).
    assert [e.location for e in errors] == ["bugs.csv:row 3", "bugs.csv:row 4", "bugs.csv:row 5"]
    assert "31/Foo/21" in errors[0].message
    assert "id" in errors[1].message
    assert "fields" in errors[2].message


def test_gitbugs_iso_offsets_and_fewer_columns(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bugs.csv",
        "Issue id,Summary,Created\n"
        "1,Offset date,2021-09-30T17:20:00.000+0530\n"
        "2,Zulu date,2021-09-30T17:20:00Z\n",
    )
    cases, errors = _split(read_cases(path, mapping="gitbugs"))
    assert errors == []
    assert cases[0].created_at == datetime(
        2021, 9, 30, 17, 20, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )
    assert cases[0].created_at.astimezone(UTC).hour == 11
    assert cases[1].created_at == datetime(2021, 9, 30, 17, 20, tzinfo=UTC)
    assert cases[0].priority is None and cases[0].status == "open"


def test_missing_required_columns_raise_mapping_error_naming_them(tmp_path: Path) -> None:
    path = _write(tmp_path / "bugs.csv", "Issue id,Created\n1,2021-01-01\n")
    with pytest.raises(MappingError, match="title") as info:
        read_cases_csv(path, "gitbugs")
    assert "'Summary'" in info.value.message
    with pytest.raises(MappingError, match="id"):
        read_cases_csv(_write(tmp_path / "t.csv", "text,queue\nx,y\n"), "endava")
    with pytest.raises(MappingError):
        read_cases_csv(_write(tmp_path / "empty.csv", ""), "endava")


def test_endava_title_from_first_words(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "tickets.csv",
        "id,text,queue\n"
        "endava-0,connection with icon icon dear please setup icon per icon engineers,Hardware\n"
        "endava-1,short text,Access\n"
        "endava-2,,Access\n",
    )
    cases, errors = _split(read_cases(path, mapping="endava"))
    assert cases[0].title == "connection with icon icon dear please setup icon"
    assert cases[0].body.endswith("engineers")
    assert cases[0].queue == "Hardware" and cases[0].id == "endava-0"
    assert cases[1].title == "short text"
    assert [e.location for e in errors] == ["tickets.csv:row 3"]


def test_huge_fields_load(tmp_path: Path) -> None:
    big = "stack frame " * 30_000  # well over the csv module's 128 KiB default
    path = _write(tmp_path / "t.csv", f'id,text,queue\nendava-9,"{big}",Storage\n')
    [case] = list(read_cases_csv(path, "endava"))
    assert isinstance(case, Case) and len(case.body) > 300_000


def test_jira_csv_repeated_columns_and_12h_dates(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "jira.csv",
        "Summary,Issue key,Issue id,Status,Priority,Created,Labels,Labels,Component/s,Reporter\n"
        "Login fails,SUP-7,1007,Waiting for customer,Highest,30/Sep/21 5:20 PM,sso,saml,Auth,"
        "acme\n",
    )
    [case] = list(read_cases(path, mapping="jira-csv"))
    assert isinstance(case, Case)
    assert case.id == "SUP-7"
    assert case.tags == ["sso", "saml"]
    assert (case.status, case.priority, case.component) == ("pending", "P1", "Auth")
    assert case.created_at == datetime(2021, 9, 30, 17, 20, tzinfo=UTC)
    assert case.customer == "acme"
    assert case.metadata == {"Issue id": "1007"}


def test_zendesk_csv_space_separated_tags(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "zd.csv",
        "Id,Subject,Status,Priority,Tags,Created at,Group,Organization,Requester id\n"
        "55,Printer offline,hold,urgent,printer  office-3 ,2023-02-01 08:30:00 +0100,IT,Acme,901\n",
    )
    [case] = list(read_cases(path, mapping="zendesk-csv"))
    assert isinstance(case, Case)
    assert case.id == "zendesk-55"
    assert case.tags == ["printer", "office-3"]
    assert (case.status, case.priority, case.queue, case.account) == ("pending", "P1", "IT", "Acme")
    assert case.customer == "901"
    assert case.created_at.astimezone(UTC) == datetime(2023, 2, 1, 7, 30, tzinfo=UTC)


def test_github_csv_preset(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "gh.csv",
        "number,title,body,state,created_at,labels,author\n"
        '12,Crash on start,"Traceback...",closed,2024-05-01T10:00:00Z,"bug, p1",octocat\n',
    )
    [case] = list(read_cases(path, mapping="github-csv"))
    assert isinstance(case, Case)
    assert (case.id, case.status, case.tags, case.customer) == (
        "github-12",
        "closed",
        ["bug", "p1"],
        "octocat",
    )


def test_custom_mapping_files_and_defaults(tmp_path: Path) -> None:
    toml_file = _write(
        tmp_path / "m.toml",
        'name = "mine"\nsource = "helpdesk"\nid_prefix = "hd-"\nrequired = ["id", "created_at"]\n'
        'date_formats = ["%d.%m.%Y"]\ntimezone = "Europe/Berlin"\nkeep_unmapped = false\n'
        '[columns]\nid = "Ticket"\ntitle = "Betreff"\nbody = ["Text", "Version"]\n'
        'created_at = "Datum"\nlinked_runbooks = "Runbooks"\n'
        '[defaults]\nproduct = "Portal"\nqueue = "L1"\n',
    )
    csv_file = _write(
        tmp_path / "t.csv",
        "Ticket,Betreff,Text,Version,Datum,Runbooks,Extra\n"
        '1,Login,Cannot log in,4.2,01.07.2024,"auth/sso, auth/mfa",x\n'
        "2,No date,Body,,,,\n",
    )
    mapping = load_mapping(toml_file)
    cases, errors = _split(read_cases_csv(csv_file, mapping))
    [case] = cases
    assert case.id == "hd-1" and case.source == "helpdesk"
    assert case.body == "Cannot log in\n\nVersion: 4.2"
    assert case.created_at == datetime(2024, 6, 30, 22, tzinfo=UTC)  # midnight in Berlin (CEST)
    assert case.linked_runbooks == ["auth/sso", "auth/mfa"]
    assert (case.product, case.queue) == ("Portal", "L1")
    assert case.metadata == {}
    assert [e.location for e in errors] == ["t.csv:row 2"]
    assert "created_at" in errors[0].message

    json_file = _write(tmp_path / "m.json", json.dumps(mapping.model_dump()))
    assert load_mapping(json_file) == mapping


def test_invalid_mappings_and_presets(tmp_path: Path) -> None:
    assert {"gitbugs", "endava", "jira-csv", "zendesk-csv", "github-csv"} <= set(preset_names())
    for name in preset_names():
        assert load_preset(name).name == name
    with pytest.raises(MappingError, match="presets"):
        load_mapping("no-such-preset")
    with pytest.raises(MappingError):
        CaseMapping.from_text('[columns]\nid = "a"\nbogus = "b"\n')
    with pytest.raises(MappingError):
        CaseMapping.from_text('[columns]\nid = "a"\n[defaults]\nnot_a_field = 1\n')
    with pytest.raises(MappingError):
        CaseMapping.from_text("columns = [")
    with pytest.raises(MappingError):
        load_mapping(tmp_path / "missing.toml")
    with pytest.raises(MappingError, match="mapping"):
        list(read_cases(_write(tmp_path / "x.csv", "a\n1\n")))


def test_parse_datetime_forms() -> None:
    fmts = ["%d/%b/%y %H:%M"]
    assert parse_datetime("30/Sep/21 17:20", fmts) == datetime(2021, 9, 30, 17, 20, tzinfo=UTC)
    assert parse_datetime("2021-09-30T17:20:00.000+0000") == datetime(
        2021, 9, 30, 17, 20, tzinfo=UTC
    )
    assert parse_datetime(1_632_000_000) == parse_datetime(1_632_000_000_000)
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_datetime("yesterday", fmts)


# --- JSONL -------------------------------------------------------------------------------


def test_jsonl_case_shaped_with_bad_lines(tmp_path: Path) -> None:
    good = {
        "id": "c1",
        "title": "Disk full",
        "tags": ["disk"],
        "created_at": "2024-01-02T03:04:05Z",
    }
    lines = [
        json.dumps(good),
        "",
        '{"id": "c2", "title": "broken',
        json.dumps({"id": "c3", "tags": "not-a-list"}),
        json.dumps({"id": "c4", "unknown_field": 1}),
        "[1, 2]",
        json.dumps({"id": "c5", "created_at": "not a date"}),
        json.dumps({"id": "c6"}),
    ]
    path = _write(tmp_path / "cases.jsonl", "\n".join(lines) + "\n")
    cases, errors = _split(read_cases(path))
    assert [c.id for c in cases] == ["c1", "c6"]
    assert cases[0].created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert [e.location for e in errors] == [
        "cases.jsonl:line 3",
        "cases.jsonl:line 4",
        "cases.jsonl:line 5",
        "cases.jsonl:line 6",
        "cases.jsonl:line 7",
    ]
    assert "tags" in errors[1].message and "unknown_field" in errors[2].message


def test_jsonl_with_mapping_and_dotted_keys(tmp_path: Path) -> None:
    mapping = CaseMapping.from_text(
        'source = "crm"\n[columns]\nid = "ticket.number"\ntitle = "ticket.subject"\n'
        'body = "text"\ntags = "labels"\ncreated_at = "opened"\n'
    )
    lines = [
        {
            "ticket": {"number": 7, "subject": "VPN down"},
            "text": "All users",
            "labels": ["vpn"],
            "opened": 1_700_000_000,
            "owner": "ann",
        },
        {"ticket": {"subject": "no number"}},
    ]
    path = _write(tmp_path / "crm.jsonl", "\n".join(json.dumps(x) for x in lines))
    cases, errors = _split(read_cases_jsonl(path, mapping))
    [case] = cases
    assert (case.id, case.title, case.body, case.tags) == ("7", "VPN down", "All users", ["vpn"])
    assert case.created_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert case.metadata == {"owner": "ann"}
    assert [e.location for e in errors] == ["crm.jsonl:line 2"]


# --- Zendesk -----------------------------------------------------------------------------

ZENDESK_TICKET = {
    "id": 35436,
    "subject": "Help, my printer is on fire!",
    "description": "The fire is very colorful.\r\nPlease help.",
    "created_at": "2009-07-20T22:55:29Z",
    "status": "solved",
    "priority": "urgent",
    "type": "incident",
    "tags": ["enterprise", "other_tag"],
    "group_id": 98738,
    "requester_id": 20978392,
    "organization_id": 509974,
    "custom_fields": [{"id": 27642, "value": "745"}, {"id": 27648, "value": None}],
    "via": {"channel": "email"},
}


def test_zendesk_shapes(tmp_path: Path) -> None:
    broken = {"subject": "no id"}
    listing = _write(
        tmp_path / "t.json", json.dumps({"tickets": [ZENDESK_TICKET, broken], "count": 2})
    )
    cases, errors = _split(read_zendesk_json(listing))
    [case] = cases
    assert case.id == "zendesk-35436"
    assert case.title == "Help, my printer is on fire!"
    assert case.body == "The fire is very colorful.\nPlease help."
    assert case.created_at == datetime(2009, 7, 20, 22, 55, 29, tzinfo=UTC)
    assert (case.status, case.priority) == ("resolved", "P1")
    assert case.tags == ["enterprise", "other_tag"]
    assert (case.customer, case.account) == ("20978392", "509974")
    assert case.metadata["group_id"] == 98738
    assert case.metadata["type"] == "incident"
    assert case.metadata["custom_fields"] == {"27642": "745"}
    assert case.metadata["channel"] == "email"
    assert [e.location for e in errors] == ["t.json:tickets[1]"]

    single = _write(tmp_path / "one.json", json.dumps({"ticket": ZENDESK_TICKET}))
    assert [c.id for c in _split(read_cases(single))[0]] == ["zendesk-35436"]  # sniffed

    lines = [json.dumps({**ZENDESK_TICKET, "id": i}) for i in (1, 2)]
    lines.insert(1, json.dumps({**ZENDESK_TICKET, "id": 3, "tags": "oops"}))
    jsonl = _write(tmp_path / "t.jsonl", "\n".join(lines))
    cases, errors = _split(read_zendesk_json(jsonl))
    assert [c.id for c in cases] == ["zendesk-1", "zendesk-2"]
    assert [e.location for e in errors] == ["t.jsonl:line 2"]


# --- Jira --------------------------------------------------------------------------------

ADF = {
    "type": "doc",
    "version": 1,
    "content": [
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "NameNode fails on "},
                {"type": "text", "text": "startup", "marks": [{"type": "strong"}]},
                {"type": "hardBreak"},
                {"type": "mention", "attrs": {"id": "x", "text": "@ops"}},
            ],
        },
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]},
        {
            "type": "bulletList",
            "content": [
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "format"}]}
                    ],
                },
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "start"}]}
                    ],
                },
            ],
        },
        {
            "type": "codeBlock",
            "attrs": {"language": "java"},
            "content": [{"type": "text", "text": "java.io.IOException: disk\n  at Foo"}],
        },
        {"type": "rule"},
        {
            "type": "panel",
            "content": [
                {
                    "type": "paragraph",
                    "content": [{"type": "inlineCard", "attrs": {"url": "https://x.y"}}],
                }
            ],
        },
    ],
}


def _issue(key: str, **fields: Any) -> dict[str, Any]:
    base = {
        "summary": "NameNode crash",
        "description": "plain *wiki* text",
        "created": "2021-09-30T17:20:00.000+0000",
        "status": {"name": "Patch Available", "statusCategory": {"key": "indeterminate"}},
        "priority": {"name": "Critical"},
        "labels": ["hdfs"],
        "components": [{"name": "namenode"}, {"name": "ha"}],
        "project": {"key": "HDFS", "name": "Hadoop HDFS"},
        "resolution": None,
        "issuetype": {"name": "Bug"},
    }
    return {"id": "1", "key": key, "self": f"https://jira/{key}", "fields": {**base, **fields}}


def test_adf_to_text() -> None:
    assert adf_to_text(ADF) == (
        "NameNode fails on startup\n@ops\n\nSteps\n\n- format\n- start\n\n"
        "```\njava.io.IOException: disk\n  at Foo\n```\n\nhttps://x.y"
    )


def test_jira_issues(tmp_path: Path) -> None:
    issues = [
        _issue("HDFS-1"),
        _issue(
            "HDFS-2",
            description=ADF,
            status={"name": "Custom", "statusCategory": {"key": "done"}},
            resolution={"name": "Fixed"},
        ),
        {"key": "HDFS-3"},
        _issue("HDFS-4", created="30th of never"),
    ]
    path = _write(tmp_path / "search.json", json.dumps({"startAt": 0, "issues": issues}))
    cases, errors = _split(read_cases(path))  # sniffed as jira
    first, second = cases
    assert first.id == "HDFS-1" and first.title == "NameNode crash"
    assert first.body == "plain *wiki* text"
    assert first.created_at == datetime(2021, 9, 30, 17, 20, tzinfo=UTC)
    assert (first.status, first.priority, first.product) == ("open", "P1", "HDFS")
    assert first.component == "namenode" and first.metadata["components"] == ["namenode", "ha"]
    assert first.tags == ["hdfs"] and first.resolution is None
    assert first.metadata["type"] == "Bug"
    assert second.body.startswith("NameNode fails on startup")
    assert (second.status, second.resolution) == ("resolved", "Fixed")
    assert [e.location for e in errors] == ["search.json:issues[2]", "search.json:issues[3]"]

    one = _write(tmp_path / "issue.json", json.dumps(_issue("OPS-9")))
    assert [c.id for c in _split(read_jira_json(one))[0]] == ["OPS-9"]


# --- GitHub ------------------------------------------------------------------------------


def _gh(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"Issue {number}",
        "body": None,
        "state": "open",
        "created_at": "2024-05-01T10:00:00Z",
        "labels": [{"name": "bug"}, {"name": "needs-triage"}],
        "user": {"login": "octocat"},
        "repository_url": "https://api.github.com/repos/octo/repo",
        "html_url": f"https://github.com/octo/repo/issues/{number}",
        **extra,
    }


def test_github_issues_skip_pull_requests(tmp_path: Path) -> None:
    payload = [_gh(5), _gh(6, pull_request={"url": "..."}), _gh(7, state="closed", body="fixed")]
    path = _write(tmp_path / "issues.json", json.dumps(payload))
    cases, errors = _split(read_cases(path))  # sniffed as github
    assert [c.id for c in cases] == ["octo/repo#5", "octo/repo#7"]
    assert cases[0].body == "" and cases[0].tags == ["bug", "needs-triage"]
    assert cases[0].customer == "octocat" and cases[1].status == "closed"
    assert cases[0].metadata["repository"] == "octo/repo"
    [pr] = errors
    assert pr.message == PULL_REQUEST_SKIPPED and pr.details["skipped"] is True
    assert pr.location == "issues.json[1]"

    no_repo = {k: v for k, v in _gh(8).items() if k != "repository_url"}
    jsonl = _write(tmp_path / "issues.jsonl", json.dumps(no_repo) + "\n{bad\n")
    cases, errors = _split(read_github_json(jsonl))
    assert [c.id for c in cases] == ["github-8"]
    assert [e.location for e in errors] == ["issues.jsonl:line 2"]


# --- dispatch ----------------------------------------------------------------------------


def test_read_cases_dispatch_errors(tmp_path: Path) -> None:
    with pytest.raises(IngestError):
        read_cases(_write(tmp_path / "x.xml", "<a/>"))
    with pytest.raises(IngestError):
        read_cases(_write(tmp_path / "x.json", "[]"), fmt="parquet")
    with pytest.raises(IngestError):
        read_cases(tmp_path / "missing.json", fmt="zendesk")
    assert list(read_cases(_write(tmp_path / "empty.jsonl", "\n\n"))) == []
    [error] = list(read_cases(_write(tmp_path / "bad.json", "{not json")))
    assert isinstance(error, RecordError) and error.location == "bad.json"
