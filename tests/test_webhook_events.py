"""Webhook deliveries from GitHub, Zendesk and Jira parsed into WebhookEvents and Cases."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.domain import Case
from core.errors import ValidationFailed
from kb_ingest.webhook_events import WebhookEvent, parse_github, parse_jira, parse_zendesk

DATA = Path(__file__).parent / "data" / "webhooks"
Parser = Callable[[bytes, Mapping[str, str]], WebhookEvent]

GH_HEADERS = {
    "X-GitHub-Event": "issues",
    "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    "X-GitHub-Hook-ID": "512093377",
}


def _raw(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _doc(name: str) -> dict[str, Any]:
    return json.loads(_raw(name))


def _body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _case(event: WebhookEvent) -> Case:
    assert event.creates_case and event.case is not None
    return event.case


# --- every fixture -----------------------------------------------------------------------

FIXTURES: list[tuple[str, Parser, dict[str, str], bool]] = [
    ("github_issue_opened.json", parse_github, GH_HEADERS, True),
    ("github_ping.json", parse_github, {**GH_HEADERS, "X-GitHub-Event": "ping"}, False),
    ("zendesk_ticket_created.json", parse_zendesk, {}, True),
    ("zendesk_trigger.json", parse_zendesk, {}, True),
    ("jira_issue_created.json", parse_jira, {}, True),
    ("jira_issue_updated.json", parse_jira, {}, False),
]


@pytest.mark.parametrize(("name", "parse", "headers", "creates"), FIXTURES)
def test_every_fixture_parses(
    name: str, parse: Parser, headers: dict[str, str], creates: bool
) -> None:
    event = parse(_raw(name), headers)
    assert event.creates_case is creates
    assert (event.case is not None) is creates
    assert event.delivery_id
    if event.case is not None:
        assert event.case.source == event.source
        assert event.case.id.startswith(f"{event.source}:")
        assert event.case.title and event.case.body
    # The model round-trips, so the lead can queue it as JSON.
    assert WebhookEvent.model_validate_json(event.model_dump_json()) == event


def test_webhook_event_requires_a_case_exactly_when_created() -> None:
    with pytest.raises(ValidationError):
        WebhookEvent(source="github", delivery_id="d", event="issues.opened", creates_case=True)
    with pytest.raises(ValidationError):
        WebhookEvent(
            source="jira", delivery_id="d", event="x", creates_case=False, case=Case(id="a")
        )


# --- GitHub ------------------------------------------------------------------------------


def test_github_issue_opened() -> None:
    event = parse_github(_raw("github_issue_opened.json"), GH_HEADERS)
    assert (event.source, event.event) == ("github", "issues.opened")
    assert event.delivery_id == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    case = _case(event)
    assert case.id == "github:ledgerline/ledgerline-node#412"
    assert case.title == "Webhook signature verification fails after upgrading to 9.4.0"
    assert case.body.startswith("Since upgrading `@ledgerline/node`") and "\r" not in case.body
    assert case.tags == ["bug", "webhooks"]
    assert case.created_at == datetime(2026, 11, 28, 9, 58, 41, tzinfo=UTC)
    assert (case.customer, case.status, case.source) == ("mara-okafor", "open", "github")
    assert case.metadata["url"] == "https://github.com/ledgerline/ledgerline-node/issues/412"
    assert case.metadata["repository"] == "ledgerline/ledgerline-node"


def test_github_headers_are_case_insensitive() -> None:
    headers = {"x-github-event": "issues", "x-github-delivery": "abc"}
    event = parse_github(_raw("github_issue_opened.json"), headers)
    assert event.delivery_id == "abc" and event.creates_case


def test_github_ping_and_other_events_create_nothing() -> None:
    ping = parse_github(_raw("github_ping.json"), {**GH_HEADERS, "X-GitHub-Event": "ping"})
    assert (ping.event, ping.creates_case, ping.case) == ("ping", False, None)

    doc = _doc("github_issue_opened.json")
    for action in ("edited", "closed", "labeled", "reopened"):
        event = parse_github(_body({**doc, "action": action}), GH_HEADERS)
        assert (event.event, event.creates_case) == (f"issues.{action}", False)
    comment = parse_github(_body({**doc, "action": "created"}), {"X-GitHub-Event": "issue_comment"})
    assert (comment.event, comment.creates_case) == ("issue_comment.created", False)


def test_github_pull_request_does_not_create_a_case() -> None:
    doc = _doc("github_issue_opened.json")
    doc["issue"]["pull_request"] = {
        "url": "https://api.github.com/repos/ledgerline/ledgerline-node/pulls/412",
        "merged_at": None,
    }
    event = parse_github(_body(doc), GH_HEADERS)
    assert (event.event, event.creates_case, event.case) == ("issues.opened", False, None)


def test_github_repository_from_the_event_when_the_issue_lacks_it() -> None:
    doc = _doc("github_issue_opened.json")
    del doc["issue"]["repository_url"]
    assert _case(parse_github(_body(doc), GH_HEADERS)).id.endswith("ledgerline-node#412")
    del doc["repository"]["url"]
    assert _case(parse_github(_body(doc), GH_HEADERS)).id.endswith("ledgerline-node#412")
    del doc["repository"]
    with pytest.raises(ValidationFailed, match=r"repository\.full_name"):
        parse_github(_body(doc), GH_HEADERS)


def test_github_delivery_id_falls_back_to_a_content_hash() -> None:
    body = _raw("github_issue_opened.json")
    first = parse_github(body, {"X-GitHub-Event": "issues"})
    again = parse_github(body, {"X-GitHub-Event": "issues"})
    other = parse_github(body + b"\n", {"X-GitHub-Event": "issues"})
    assert first.delivery_id.startswith("sha256:")
    assert first.delivery_id == again.delivery_id != other.delivery_id


# --- Zendesk -----------------------------------------------------------------------------


def test_zendesk_event_webhook_ticket_created() -> None:
    event = parse_zendesk(_raw("zendesk_ticket_created.json"), {})
    assert (event.source, event.event) == ("zendesk", "zen:event-type:ticket.created")
    assert event.delivery_id == "cbe4028c-7239-495d-b020-f22348516046"
    case = _case(event)
    assert case.id == "zendesk:48213"
    assert case.title == "Intermittent 502 on POST /v2/payments"
    assert "HTTP 502" in case.body
    assert (case.status, case.priority) == ("new", "P2")
    assert case.tags == ["payments_api", "enterprise", "checkout"]
    assert case.created_at == datetime(2026, 11, 28, 9, 59, 58, tzinfo=UTC)
    assert (case.customer, case.account) == ("8447388090494", "360123456789")
    assert case.metadata["channel"] == "web_service"
    assert case.metadata["type"] == "INCIDENT"


def test_zendesk_dotted_alias_and_other_event_types() -> None:
    doc = _doc("zendesk_ticket_created.json")
    alias = parse_zendesk(_body({**doc, "type": "zendesk.support.ticket.created"}), {})
    assert _case(alias).id == "zendesk:48213"
    for kind in ("zen:event-type:ticket.status_changed", "zen:event-type:user.created"):
        # Non-creating events need no ticket detail at all.
        event = parse_zendesk(_body({**doc, "type": kind, "detail": None}), {})
        assert (event.event, event.creates_case, event.case) == (kind, False, None)
        assert event.delivery_id == doc["id"]


def test_zendesk_trigger_webhook() -> None:
    headers = {"X-Zendesk-Webhook-Invocation-Id": "8350205582"}
    event = parse_zendesk(_raw("zendesk_trigger.json"), headers)
    assert (event.event, event.delivery_id) == ("trigger", "8350205582")
    case = _case(event)
    assert case.id == "zendesk:48214"
    assert (case.status, case.priority) == ("new", "P1")
    assert case.tags == ["refunds", "webhooks", "enterprise"]  # {{ticket.tags}} is one string
    assert "type" not in case.metadata  # "-" is how an unset placeholder renders
    assert case.metadata["channel"] == "Web Form"
    assert case.metadata["url"] == "acme-support.zendesk.com/agent/tickets/48214"
    assert case.created_at == datetime(2026, 11, 28, 10, 2, 11, tzinfo=UTC)
    assert case.customer == "8447388090511"


def test_zendesk_delivery_id_order() -> None:
    created = _doc("zendesk_ticket_created.json")
    invocation = {"x-zendesk-webhook-invocation-id": "inv-1"}
    assert parse_zendesk(_body(created), invocation).delivery_id == created["id"]
    no_id = {k: v for k, v in created.items() if k != "id"}
    assert parse_zendesk(_body(no_id), invocation).delivery_id == "inv-1"
    hashed = parse_zendesk(_body(no_id), {}).delivery_id
    assert hashed.startswith("sha256:") and len(hashed) == len("sha256:") + 64


# --- Jira --------------------------------------------------------------------------------


def test_jira_issue_created_with_adf_description() -> None:
    event = parse_jira(_raw("jira_issue_created.json"), {})
    assert (event.source, event.event) == ("jira", "jira:issue_created")
    assert event.delivery_id == "jira:issue_created:SUP-217:1795773600412"
    case = _case(event)
    assert case.id == "jira:SUP-217"
    assert case.title == "etcd cluster lost quorum after node pool upgrade"
    assert case.body.startswith(
        "After upgrading the node pool to 1.31.2 two of three etcd members stay unhealthy."
    )
    assert "```\netcdserver: request timed out" in case.body
    assert "- kube-apiserver returns 503" in case.body
    assert case.created_at == datetime(
        2026, 11, 28, 11, 0, 0, 251000, tzinfo=timezone(timedelta(hours=1))
    )
    assert (case.status, case.priority, case.product) == ("open", "P2", "SUP")
    assert (case.component, case.tags) == ("Control plane", ["etcd", "production"])
    assert case.customer == "qm:7c1e2d3f-aa10-4b2c-9d8e-0f1a2b3c4d5e"  # id, not display name
    assert case.metadata["type"] == "[System] Incident"
    assert case.source == "jira"


def test_jira_identifier_header_and_non_creating_events() -> None:
    headers = {"X-Atlassian-Webhook-Identifier": "1b8e7f0a-54d2-4c1b-a9a1-0e6f3c2d8b77"}
    event = parse_jira(_raw("jira_issue_created.json"), headers)
    assert event.delivery_id == headers["X-Atlassian-Webhook-Identifier"]

    updated = parse_jira(_raw("jira_issue_updated.json"), {})
    assert (updated.event, updated.creates_case, updated.case) == (
        "jira:issue_updated",
        False,
        None,
    )
    assert updated.delivery_id == "jira:issue_updated:SUP-217:1795774512007"
    version = parse_jira(_body({"webhookEvent": "jira:version_released", "version": {}}), {})
    assert not version.creates_case and version.delivery_id.startswith("jira:version_released:-:")


def test_jira_plain_text_description_and_server_reporter() -> None:
    doc = _doc("jira_issue_created.json")
    fields = doc["issue"]["fields"]
    fields["description"] = "Plain *wiki* text\r\nsecond line"
    fields["reporter"] = {"name": "rmenon", "key": "JIRAUSER10400", "displayName": "Ravi Menon"}
    case = _case(parse_jira(_body(doc), {}))
    assert case.body == "Plain *wiki* text\nsecond line"
    assert case.customer == "rmenon"
    del fields["reporter"]
    assert _case(parse_jira(_body(doc), {})).customer is None


def test_jira_automation_bodies_create_cases() -> None:
    issue = _doc("jira_issue_created.json")["issue"]
    for body in (_body(issue), _body({"issue": issue})):
        event = parse_jira(body, {"X-Atlassian-Webhook-Identifier": "auto-1"})
        assert (event.event, event.delivery_id) == ("automation", "auto-1")
        assert _case(event).id == "jira:SUP-217"
    assert parse_jira(_body(issue), {}).delivery_id.startswith("sha256:")


# --- malformed input ---------------------------------------------------------------------


def _mutated(name: str, change: Callable[[dict[str, Any]], None]) -> bytes:
    doc = _doc(name)
    change(doc)
    return _body(doc)


def _pop(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        for key in path[:-1]:
            doc = doc[key]
        del doc[path[-1]]

    return change


def _set(value: Any, *path: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value

    return change


GH = "github_issue_opened.json"
ZD = "zendesk_ticket_created.json"
ZT = "zendesk_trigger.json"
JI = "jira_issue_created.json"

MALFORMED: list[tuple[Parser, bytes, str]] = [
    (parse_github, b"{not json", "body"),
    (parse_github, b"[1, 2]", "body"),
    (parse_github, b"\xff\xfe\x00garbage", "body"),
    (parse_github, _mutated(GH, _pop("issue")), "issue"),
    (parse_github, _mutated(GH, _set("412", "issue")), "issue"),
    (parse_github, _mutated(GH, _pop("issue", "number")), "issue.number"),
    (parse_github, _mutated(GH, _set({"n": 1}, "issue", "number")), "issue.number"),
    (parse_github, _mutated(GH, _set("bug", "issue", "labels")), "issue.labels"),
    (parse_github, _mutated(GH, _set("soon", "issue", "created_at")), "issue.created_at"),
    (parse_zendesk, b"", "body"),
    (parse_zendesk, b'{"account_id": 1}', "type"),
    (parse_zendesk, _mutated(ZD, _pop("detail")), "detail"),
    (parse_zendesk, _mutated(ZD, _pop("detail", "id")), "detail.id"),
    (parse_zendesk, _mutated(ZD, _set("a b", "detail", "tags")), "detail.tags"),
    (parse_zendesk, _mutated(ZD, _set("today", "detail", "created_at")), "detail.created_at"),
    (parse_zendesk, _mutated(ZT, _set("48214", "ticket")), "ticket"),
    (parse_zendesk, _mutated(ZT, _set("", "ticket", "id")), "ticket.id"),
    (
        parse_zendesk,
        _mutated(ZT, _set("November 28, 2026", "ticket", "created_at")),
        "ticket.created_at",
    ),
    (parse_jira, b"null", "body"),
    (parse_jira, b'{"timestamp": 1}', "webhookEvent"),
    (parse_jira, _mutated(JI, _set(7, "webhookEvent")), "webhookEvent"),
    (parse_jira, _mutated(JI, _pop("issue")), "issue"),
    (parse_jira, _mutated(JI, _pop("issue", "key")), "issue.key"),
    (parse_jira, _mutated(JI, _pop("issue", "fields")), "issue.fields"),
    (parse_jira, _mutated(JI, _set([1], "issue", "fields", "description")), "description"),
    (parse_jira, _mutated(JI, _set("x", "issue", "fields", "labels")), "issue.fields.labels"),
    (parse_jira, _mutated(JI, _set("soon", "issue", "fields", "created")), "fields.created"),
]


@pytest.mark.parametrize(("parse", "body", "field"), MALFORMED)
def test_malformed_input_names_the_field(parse: Parser, body: bytes, field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(body, GH_HEADERS)
    assert info.value.message.startswith(field) or f"{field}:" in info.value.message
    assert str(info.value.details["field"]).endswith(field)


def test_github_event_header_is_required() -> None:
    with pytest.raises(ValidationFailed, match="X-GitHub-Event") as info:
        parse_github(_raw(GH), {"X-GitHub-Delivery": "d"})
    assert info.value.details["field"] == "X-GitHub-Event"


def test_overlong_delivery_id_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match="X-GitHub-Delivery"):
        parse_github(_raw(GH), {**GH_HEADERS, "X-GitHub-Delivery": "x" * 201})
    with pytest.raises(ValidationFailed, match="id"):
        parse_zendesk(_mutated(ZD, _set("x" * 201, "id")), {})
