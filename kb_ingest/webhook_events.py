"""Parse a ticket-system webhook delivery into a WebhookEvent, with a Case when one was created.

Pure functions over the raw body and the request headers: signatures are checked before this
(api/webhook_signatures.py), and storing or triaging the Case happens after. Ticket fields are
converted by the same functions the file readers use, so a webhook and an export agree.

Supported deliveries:
- GitHub `issues` events (`opened` creates a case), `ping`, anything else (ignored);
- Zendesk event webhooks (`zen:event-type:ticket.created` creates a case) and trigger or
  automation webhooks whose JSON body an admin wrote as `{"ticket": {...}}` with placeholders;
- Jira (Cloud, Data Center, Service Management) `jira:issue_created`, other events (ignored),
  and automation "Send web request" bodies that carry the issue itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.domain import Case
from core.errors import RecordError, ValidationFailed
from kb_ingest.case_readers import github_case, jira_case, zendesk_case

WebhookSource = Literal["zendesk", "jira", "github"]

# Case ids name their system, so cases from several trackers never collide.
GITHUB_ID_PREFIX = "github:"
ZENDESK_ID_PREFIX = "zendesk:"
JIRA_ID_PREFIX = "jira:"

GITHUB_EVENT_HEADER = "X-GitHub-Event"
GITHUB_DELIVERY_HEADER = "X-GitHub-Delivery"
ZENDESK_INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
JIRA_IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"

# Zendesk's documented event type, and the dotted alias Casebook's API spec also names.
ZENDESK_CREATED_TYPES = frozenset(
    {"zen:event-type:ticket.created", "zendesk.support.ticket.created"}
)
ZENDESK_TRIGGER_EVENT = "trigger"
JIRA_CREATED_EVENT = "jira:issue_created"
JIRA_AUTOMATION_EVENT = "automation"

_MAX_DELIVERY_ID = 200
_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.]*): ")


class WebhookEvent(BaseModel):
    """One webhook delivery: where it came from, its id for de-duplication, and its Case."""

    model_config = ConfigDict(extra="forbid")

    source: WebhookSource
    delivery_id: str = Field(min_length=1, max_length=_MAX_DELIVERY_ID)
    event: str
    creates_case: bool
    case: Case | None = None

    @model_validator(mode="after")
    def _case_iff_created(self) -> WebhookEvent:
        if self.creates_case != (self.case is not None):
            raise ValueError("a case is present exactly when the event creates one")
        return self


# --- GitHub ------------------------------------------------------------------------------


def parse_github(body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
    """A GitHub delivery; `issues` + `opened` on an issue (not a pull request) creates a case."""
    kind = _header(headers, GITHUB_EVENT_HEADER)
    if kind is None:
        raise ValidationFailed(
            f"header {GITHUB_EVENT_HEADER} is missing", field=GITHUB_EVENT_HEADER
        )
    payload = _json_object(body)
    delivery_id = _delivery_id(headers, GITHUB_DELIVERY_HEADER, body)
    action = payload.get("action")
    event = f"{kind}.{action}" if isinstance(action, str) and action else kind
    if kind != "issues" or action != "opened":
        return _ignored("github", delivery_id, event)
    issue = _object(payload, "issue", "issue")
    if "pull_request" in issue:
        return _ignored("github", delivery_id, event)
    _require_scalar(issue, "number", "issue.number")
    issue = _with_repository_url(issue, payload.get("repository"))
    case = _convert(lambda: github_case(issue, GITHUB_ID_PREFIX, "issue"), "issue")
    return WebhookEvent(
        source="github", delivery_id=delivery_id, event=event, creates_case=True, case=case
    )


def _with_repository_url(issue: dict[str, Any], repository: Any) -> dict[str, Any]:
    # Issue payloads carry repository_url; fall back to the event's repository object.
    if isinstance(issue.get("repository_url"), str) and "/repos/" in issue["repository_url"]:
        return issue
    repo = repository if isinstance(repository, dict) else {}
    url = repo.get("url")
    full_name = repo.get("full_name")
    if isinstance(url, str) and "/repos/" in url:
        return {**issue, "repository_url": url}
    if isinstance(full_name, str) and full_name.count("/") == 1 and all(full_name.split("/")):
        return {**issue, "repository_url": f"https://api.github.com/repos/{full_name}"}
    raise ValidationFailed(
        "repository.full_name: missing; cannot tell which repository the issue is in",
        field="repository.full_name",
    )


# --- Zendesk -----------------------------------------------------------------------------


def parse_zendesk(body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
    """A Zendesk event webhook (`ticket.created` creates a case) or a trigger `{"ticket": ...}`."""
    payload = _json_object(body)
    if "ticket" in payload:
        return _zendesk_trigger(payload, headers, body)
    kind = payload.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise ValidationFailed(
            'type: missing; expected a Zendesk event ({"type", "detail", ...}) '
            'or a trigger body ({"ticket": {...}})',
            field="type",
        )
    event_id = payload.get("id")
    if isinstance(event_id, str | int) and not isinstance(event_id, bool) and str(event_id):
        delivery_id = _bounded(str(event_id), "id")
    else:
        delivery_id = _delivery_id(headers, ZENDESK_INVOCATION_HEADER, body)
    if kind not in ZENDESK_CREATED_TYPES:
        return _ignored("zendesk", delivery_id, kind)
    detail = _object(payload, "detail", "detail")
    _require_scalar(detail, "id", "detail.id")
    case = _convert(lambda: zendesk_case(detail, ZENDESK_ID_PREFIX, "detail"), "detail")
    return WebhookEvent(
        source="zendesk", delivery_id=delivery_id, event=kind, creates_case=True, case=case
    )


def _zendesk_trigger(
    payload: Mapping[str, Any], headers: Mapping[str, str], body: bytes
) -> WebhookEvent:
    ticket = _trigger_ticket(_object(payload, "ticket", "ticket"))
    _require_scalar(ticket, "id", "ticket.id")
    delivery_id = _delivery_id(headers, ZENDESK_INVOCATION_HEADER, body)
    case = _convert(lambda: zendesk_case(ticket, ZENDESK_ID_PREFIX, "ticket"), "ticket")
    return WebhookEvent(
        source="zendesk",
        delivery_id=delivery_id,
        event=ZENDESK_TRIGGER_EVENT,
        creates_case=True,
        case=case,
    )


def _trigger_ticket(ticket: dict[str, Any]) -> dict[str, Any]:
    # Placeholders render as text: {{ticket.tags}} is space-separated, {{ticket.via}} is a
    # name ("Web Form"), and an unset {{ticket.priority}} or {{ticket.ticket_type}} is "-".
    out = {key: (None if value == "-" else value) for key, value in ticket.items()}
    tags = out.get("tags")
    if isinstance(tags, str):
        out["tags"] = tags.replace(",", " ").split()
    via = out.get("via")
    if isinstance(via, str) and via.strip():
        out["via"] = {"channel": via.strip()}
    return out


# --- Jira --------------------------------------------------------------------------------


def parse_jira(body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
    """A Jira (or Jira Service Management) delivery; `jira:issue_created` creates a case.

    An automation "Send web request" body without `webhookEvent` (the issue itself, or
    `{"issue": {...}}`) also creates a case: the rule's trigger decides when it is sent.
    """
    payload = _json_object(body)
    kind = payload.get("webhookEvent")
    if kind is None and _looks_like_issue(payload.get("issue", payload)):
        return _jira_automation(payload, headers, body)
    if not isinstance(kind, str) or not kind.strip():
        raise ValidationFailed("webhookEvent: missing or not a string", field="webhookEvent")
    issue = payload.get("issue")
    key = issue.get("key") if isinstance(issue, dict) else None
    delivery_id = _header(headers, JIRA_IDENTIFIER_HEADER)
    if delivery_id is None:
        timestamp = payload.get("timestamp")
        stamp = str(timestamp) if timestamp is not None else _content_hash(body)
        delivery_id = f"{kind}:{key if isinstance(key, str) and key else '-'}:{stamp}"
    delivery_id = _bounded(delivery_id, JIRA_IDENTIFIER_HEADER)
    if kind != JIRA_CREATED_EVENT:
        return _ignored("jira", delivery_id, kind)
    case = _jira_issue_case(_object(payload, "issue", "issue"), "issue")
    return WebhookEvent(
        source="jira", delivery_id=delivery_id, event=kind, creates_case=True, case=case
    )


def _jira_automation(
    payload: Mapping[str, Any], headers: Mapping[str, str], body: bytes
) -> WebhookEvent:
    if "issue" in payload:
        issue, where = _object(payload, "issue", "issue"), "issue"
    else:
        issue, where = dict(payload), "body"
    delivery_id = _delivery_id(headers, JIRA_IDENTIFIER_HEADER, body)
    case = _jira_issue_case(issue, where)
    return WebhookEvent(
        source="jira",
        delivery_id=delivery_id,
        event=JIRA_AUTOMATION_EVENT,
        creates_case=True,
        case=case,
    )


def _looks_like_issue(value: Any) -> bool:
    return isinstance(value, dict) and "key" in value and "fields" in value


def _jira_issue_case(issue: dict[str, Any], where: str) -> Case:
    key = issue.get("key")
    if not isinstance(key, str) or not key.strip():
        raise ValidationFailed(f"{where}.key: missing or not a string", field=f"{where}.key")
    fields = _object(issue, "fields", f"{where}.fields")
    case = _convert(
        lambda: jira_case(issue, JIRA_ID_PREFIX, where),
        f"{where}.fields",
        renames={"created_at": "created"},
    )
    reporter = fields.get("reporter")
    if isinstance(reporter, dict):
        # accountId (Cloud) or name/key (Data Center): stable ids, not display names.
        who = reporter.get("accountId") or reporter.get("name") or reporter.get("key")
        if isinstance(who, str) and who.strip():
            case = case.model_copy(update={"customer": who.strip()})
    return case


# --- shared ------------------------------------------------------------------------------


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"body: not valid JSON ({exc})", field="body") from None
    if not isinstance(payload, dict):
        raise ValidationFailed(
            f"body: expected a JSON object, got {type(payload).__name__}", field="body"
        )
    return payload


def _object(record: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    value = record.get(key)
    if not isinstance(value, dict):
        raise ValidationFailed(f"{path}: missing or not an object", field=path)
    return value


def _require_scalar(record: Mapping[str, Any], key: str, path: str) -> None:
    value = record.get(key)
    blank = value is None or (isinstance(value, str) and not value.strip())
    if blank or isinstance(value, dict | list | bool):
        raise ValidationFailed(f"{path}: missing or invalid", field=path)


def _convert(
    build: Callable[[], Case], where: str, renames: Mapping[str, str] | None = None
) -> Case:
    """Run a reader's converter, turning its record errors into ValidationFailed."""
    try:
        return build()
    except RecordError as exc:
        raise _failure(exc.message, where, renames or {}) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        message = f"{loc}: {first['msg']}" if loc else first["msg"]
        raise _failure(message, where, renames or {}) from None
    except (ValueError, TypeError) as exc:
        raise _failure(str(exc), where, renames or {}) from None


def _failure(message: str, where: str, renames: Mapping[str, str]) -> ValidationFailed:
    # Reader messages start with the Case field ("labels: expected a list"); name it as
    # the payload does, under where it was found.
    match = _FIELD_PREFIX.match(message)
    if match:
        name = match.group(1)
        field = f"{where}.{renames.get(name, name)}"
        return ValidationFailed(f"{field}: {message[match.end() :]}", field=field)
    return ValidationFailed(f"{where}: {message}", field=where)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Plain dicts are case-sensitive; HTTP header names are not.
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None or not str(value).strip():
        return None
    return str(value).strip()


def _delivery_id(headers: Mapping[str, str], header: str, body: bytes) -> str:
    value = _header(headers, header)
    return _bounded(value, header) if value is not None else _content_hash(body)


def _bounded(value: str, field: str) -> str:
    if len(value) > _MAX_DELIVERY_ID:
        raise ValidationFailed(
            f"{field}: delivery id longer than {_MAX_DELIVERY_ID} characters", field=field
        )
    return value


def _content_hash(body: bytes) -> str:
    # Redeliveries of the same body get the same id, so they de-duplicate.
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _ignored(source: WebhookSource, delivery_id: str, event: str) -> WebhookEvent:
    return WebhookEvent(source=source, delivery_id=delivery_id, event=event, creates_case=False)
