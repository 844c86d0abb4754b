"""Structured output: ask for a JSON schema, pull JSON out of what comes back, validate it."""

from __future__ import annotations

import json
import re
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

ResponseFormatMode = Literal["json_schema", "json_object", "none"]
T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n(.*?)```", re.DOTALL)
# Reasoning models served locally often prefix their answer with a thinking block.
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


class OutputParseError(ValueError):
    """The model's text is not valid JSON for the schema; `feedback` is what we tell the model."""

    def __init__(self, feedback: str) -> None:
        super().__init__(feedback)
        self.feedback = feedback


def json_schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a pydantic model, as sent to the provider."""
    return model.model_json_schema()


def response_format_for(
    model: type[BaseModel], mode: ResponseFormatMode = "json_schema"
) -> dict[str, Any] | None:
    """The `response_format` to send for `model` in the given mode (None for "none")."""
    if mode == "none":
        return None
    schema = json_schema_of(model)
    if mode == "json_object":
        # llama.cpp's server takes a schema inside json_object but rejects json_schema (422).
        return {"type": "json_object", "schema": schema}
    return {
        "type": "json_schema",
        "json_schema": {"name": _schema_name(model), "schema": schema, "strict": False},
    }


def _schema_name(model: type[BaseModel]) -> str:
    # OpenAI requires ^[a-zA-Z0-9_-]{1,64}$ for the name.
    return re.sub(r"[^a-zA-Z0-9_-]", "_", model.__name__)[:64] or "output"


def schema_instruction(model: type[BaseModel]) -> str:
    """A system-prompt paragraph with the schema, for servers that ignore response_format."""
    schema = json.dumps(json_schema_of(model), separators=(",", ":"), ensure_ascii=False)
    return (
        "Reply with one JSON object only (no prose, no code fences) that validates against "
        f"this JSON schema:\n{schema}"
    )


def extract_json(text: str) -> Any:
    """The JSON object in a model reply, tolerating code fences, thinking blocks and prose.

    Raises OutputParseError when no JSON object can be found.
    """
    cleaned = _THINK.sub("", text).strip()
    if not cleaned:
        raise OutputParseError("The reply was empty; a JSON object was expected.")
    candidates = [cleaned, *(m.group(1).strip() for m in _FENCE.finditer(cleaned))]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    # Leading or trailing prose: decode from each '{' until one parses as a whole object.
    decoder = json.JSONDecoder()
    first_error: json.JSONDecodeError | None = None
    for match in re.finditer(r"\{", cleaned):
        try:
            value, _ = decoder.raw_decode(cleaned, match.start())
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
            continue
        if isinstance(value, dict):
            return value
    if first_error is not None:
        raise OutputParseError(
            f"The reply is not valid JSON: {first_error.msg} at line {first_error.lineno} "
            f"column {first_error.colno}."
        )
    raise OutputParseError("The reply contains no JSON object.")


def parse_output(text: str, model: type[T]) -> T:
    """Extract JSON from `text` and validate it into `model`; OutputParseError if either fails."""
    data = extract_json(text)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise OutputParseError(format_validation_errors(exc)) from exc


def format_validation_errors(exc: ValidationError, *, limit: int = 20) -> str:
    """Validation errors as `path: message` lines, without echoing the offending input."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False)[:limit]:
        loc = ".".join(str(part) for part in error["loc"]) or "(root)"
        lines.append(f"- {loc}: {error['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        lines.append(f"- ... and {more} more errors")
    return "The JSON does not match the schema:\n" + "\n".join(lines)


def reask_messages(
    bad_output: str, feedback: str, *, max_chars: int = 2000
) -> list[dict[str, str]]:
    """The two messages appended for a re-ask: the bad reply, then what to fix."""
    return [
        {"role": "assistant", "content": _truncate(bad_output, max_chars * 4)},
        {
            "role": "user",
            "content": (
                "Your previous reply could not be used.\n"
                f"{_truncate(feedback, max_chars)}\n"
                "Reply again with the corrected JSON object only: no prose, no code fences, "
                "and the same schema as before."
            ),
        },
    ]


def _truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[:max_chars] + "…[truncated]"
