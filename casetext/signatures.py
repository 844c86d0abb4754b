"""Error signatures: normalised, stable strings that identify a failure across tickets.

Two tickets about the same failure share signatures even when ids, timestamps and hosts
differ. Each signature carries its type as a prefix:

- `exc:` exception classes (`exc:java.lang.NullPointerException` and `exc:NullPointerException`,
  Python/.NET names, Go panics as `exc:go.panic:<message head>`),
- `http:` HTTP statuses 300-599 seen in context (`HTTP 503`, `status_code=429`,
  `503 Service Unavailable`; 4xx/5xx after words like `returned`, `got`, `error`),
- `code:` error codes (`ERR_*`, `E1234`, `ORA-00942`, errno names, gRPC codes, signals,
  SQLSTATE, exit codes, Kubernetes reasons, JSON `"code"` values),
- `frame:` stack frames without line numbers, the top three application frames per trace,
- `alert:` alert names (`alertname=X`, `[FIRING:1] X`, `alert X`),
- `msg:` the error message line, normalised by `normalise_message`.

All regexes are linear (no nested unbounded repetition over the same characters) and the
input is bounded, so a huge log costs milliseconds, not minutes.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

DEFAULT_LIMIT = 32
FRAMES_PER_TRACE = 3
MAX_FRAMES = 12
MAX_MESSAGES = 8
MESSAGE_MAX_CHARS = 120

# Beyond this, only the head and the tail of a text are read: the failure is usually at the
# start of a ticket or at the end of a pasted log.
_MAX_SCAN_CHARS = 1_000_000
# A message line is cut to this before normalising (it is truncated afterwards anyway).
_MAX_LINE_CHARS = 600


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- message normalisation ---------------------------------------------------------------
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_HOST_SUFFIXES = (
    # Not suffixes that double as file extensions (.in, .me, .ai, .co, .us).
    "com|net|org|io|uk|de|fr|nl|jp|cn|ru|eu|ca|au|br|info|biz|cloud|dev"
    "|internal|local|localdomain|lan|corp|intranet|home|svc|arpa"
)
_NORMALISERS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Redaction placeholders mean the same as the placeholders here.
    (re.compile(r"\[IP\]"), "<ip>"),
    (re.compile(r"\[EMAIL\]"), "<email>"),
    # Quoted values: names of tables, files, keys. An apostrophe after a letter is English.
    (
        re.compile(r"\"[^\"\n]{0,200}\"|(?<![A-Za-z])'[^'\n]{0,200}'(?![A-Za-z])|`[^`\n]{0,200}`"),
        "<str>",
    ),
    (re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,15}://[^\s/?#]+"), "<url>"),
    (re.compile(r"(?<![\w.%+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    # Directories differ between machines (/home/alice/src/... vs C:\\build\\...); keep the file.
    (re.compile(r"(?<![\w.>])(?:[A-Za-z]:)?(?:[\\/][\w.@~+-]+){2,}[\\/](?=[\w.-])"), "<path>/"),
    (
        re.compile(
            r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b"
        ),
        "<uuid>",
    ),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}"
            r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
            r"|\b\d{4}/\d{2}/\d{2}\b"
            r"|\b\d{1,2}/" + _MONTHS + r"/\d{2,4}(?:[: ]\d{1,2}:\d{2}(?::\d{2})?)?"
            r"|\b" + _MONTHS + r"[a-z]*\.? {1,2}\d{1,2}(?:,? \d{4})?(?= |$)"
            r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"
        ),
        "<ts>",
    ),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"), "<ip>"),
    (
        re.compile(
            r"(?<![\w:])(?=[0-9A-Fa-f:]*::|(?:[0-9A-Fa-f]{1,4}:){7})"
            r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"
        ),
        "<ip>",
    ),
    (
        re.compile(
            # Not reverse-DNS Java packages: org.apache.hadoop.io is code, not a host.
            r"(?<![\w.-])(?!(?:com|org|net|io|java|javax|jdk|sun|edu|gov)\.)"
            r"(?:[a-z0-9][a-z0-9-]*\.)+(?:" + _HOST_SUFFIXES + r")(?![\w-]|\.\w)"
            r"|(?<![\w.-])[a-z][a-z-]*\d[a-z0-9-]*(?:\.[a-z0-9-]+){2,}(?![\w-]|\.\w)"
        ),
        "<host>",
    ),
    (re.compile(r"\b0x[0-9A-Fa-f]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"), "<hex>"),
    # Random-looking ids (two or more digit runs among letters): req_8f3kXz91, pod suffixes.
    (
        re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z]*\d+[A-Za-z]+\d)[A-Za-z0-9]{8,}(?![A-Za-z0-9])"),
        "<id>",
    ),
    (re.compile(r"\d+(?:[.,]\d+)*"), "<num>"),
)
_SPACES = re.compile(r"\s+")
_PLACEHOLDER = re.compile(r"<(?:num|hex|uuid|ts|host|ip|str|url|email|id|path)>")
# Build-tool boilerplate printed around every failure; as a signature it would join
# unrelated tickets.
_BOILERPLATE = (
    "tests run:",
    "to see the full stack trace",
    "re-run maven",
    "for more information about the errors",
    "after correcting the problems",
    "-> [help",
)
_WORD = re.compile(r"[a-z]{2,}")


def normalise_message(text: str) -> str:
    """Normalise an error message: volatile parts become placeholders, lowercase, <=120 chars.

    Placeholders: `<num>`, `<hex>`, `<uuid>`, `<ts>`, `<host>`, `<ip>`, `<str>` (quoted values),
    `<url>`, `<email>`, `<id>`, `<path>/` (directories of a file path). Whitespace is collapsed.
    """
    for pattern, replacement in _NORMALISERS:
        text = pattern.sub(replacement, text)
    text = _SPACES.sub(" ", text.lower()).strip()
    if len(text) > MESSAGE_MAX_CHARS:
        text = text[:MESSAGE_MAX_CHARS]
        # Do not leave half a placeholder behind.
        if text.rfind("<") > text.rfind(">"):
            text = text[: text.rfind("<")]
    return text.rstrip(" .,;:-")


def _is_informative(message: str) -> bool:
    """At least two real words besides placeholders ("<str>" alone says nothing)."""
    words = _WORD.findall(_PLACEHOLDER.sub(" ", message))
    return len(words) >= 2


# --- exceptions --------------------------------------------------------------------------
_EXC_SUFFIX = re.compile(r"(?:Exception|Error|Throwable|Fault)(?![\w$])")
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$.")
_IDENT = re.compile(r"[A-Za-z_$][\w$]*", re.ASCII)
# Kubernetes reasons that look like exceptions are reported as codes instead.
_K8S_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "OOMKilled",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
        "InvalidImageName",
        "ContainerCannotRun",
        "FailedScheduling",
        "FailedMount",
        "FailedAttachVolume",
        "FailedCreatePodSandBox",
    }
)


@dataclass(frozen=True, slots=True)
class _Message:
    """A candidate `msg:` for the line starting at `line`; lower `rank` wins on a line."""

    pos: int
    line: int
    rank: int
    text: str


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _rest_of_line(text: str, pos: int) -> str:
    line = text[pos : pos + _MAX_LINE_CHARS]
    end = line.find("\n")
    line = line if end < 0 else line[:end]
    # A JSON-escaped log keeps its line breaks as a literal backslash-n.
    escaped = line.find("\\n")
    return line if escaped < 0 else line[:escaped]


def _exceptions(
    text: str, messages: list[_Message], in_frame: Callable[[int], bool]
) -> Iterator[tuple[int, str]]:
    for match in _EXC_SUFFIX.finditer(text):
        if in_frame(match.start()):
            continue  # a method or constructor in a stack frame, not a thrown exception
        end = match.end()
        start = match.start()
        floor = max(0, start - 300)
        while start > floor and text[start - 1] in _IDENT_CHARS:
            start -= 1
        dotted = text[start:end].strip(".")
        parts = dotted.split(".")
        # Keep the trailing run of well-formed identifiers (no "..", no leading digits).
        keep: list[str] = []
        for part in reversed(parts):
            if not _IDENT.fullmatch(part):
                break
            keep.append(part)
        keep.reverse()
        if not keep:
            continue
        # Java inner classes (KeeperException$NodeExistsException) go by their own name.
        name = keep[-1].rsplit("$", 1)[-1]
        if not name or not name[0].isupper() or name == match.group(0) or name in _K8S_REASONS:
            continue
        position = end - len(".".join(keep))
        qualified = ".".join(keep)
        if len(keep) > 1:
            yield position, f"exc:{qualified}"
        yield position, f"exc:{name}"
        if text.startswith(":", end) and text[end + 1 : end + 2] in (" ", "\t"):
            messages.append(_Message(end, _line_start(text, end), 0, _rest_of_line(text, end + 1)))


# Go: "panic: runtime error: index out of range [5] with length 3" -> the stable head.
_GO_PANIC = re.compile(r"panic: (?=\S)")
_GO_FATAL = re.compile(r"fatal error: (?=\S)")
# Cut before brackets, quotes and numbers (not digits inside words: "x509: certificate ...").
_GO_HEAD_END = re.compile(r"[\[({\"'`]|(?<![A-Za-z0-9])\d|\bgoroutine\b")


def _go_head(message: str) -> str:
    cut = _GO_HEAD_END.search(message)
    head = message[: cut.start()] if cut else message
    return _SPACES.sub(" ", head.lower()).strip(" .,;:-!")[:80].rstrip()


def _go_panics(text: str, messages: list[_Message]) -> Iterator[tuple[int, str]]:
    triggers = [("go.panic", _GO_PANIC)]
    # "fatal error:" is also gcc's; only Go runtime output mentions goroutines.
    if "goroutine " in text:
        triggers.append(("go.fatal", _GO_FATAL))
    for label, pattern in triggers:
        for match in pattern.finditer(text):
            line = _line_start(text, match.start())
            if text[line : match.start()].strip():
                continue  # Go prints panics at the start of a line
            message = _rest_of_line(text, match.end())
            head = _go_head(message)
            if head:
                yield match.start(), f"exc:{label}:{head}"
            messages.append(_Message(match.start(), line, 0, message))


# --- generic error lines -----------------------------------------------------------------
_ERROR_WORD = re.compile(
    r"[EeFfCc](?<![\w][EeFfCc])(?:rror|RROR|xception|XCEPTION|atal|ATAL|ailure|AILURE"
    r"|ailed|AILED|ritical|RITICAL)[ \t]*:[ \t]+(?=\S)"
)
_LOG_LEVEL = re.compile(r"[EFCS](?<![\w-][EFCS])(?:RROR|ATAL|RITICAL|EVERE)\]?[ \t]+(?=\S)")
# Log prefixes between the level and the message: [thread], (file.c:12), a.b.Logger:, "- ".
_LOG_PREFIX = re.compile(
    r"(?:\[[^\]\n]{0,80}\][ \t]*|\([^)\n]{0,80}\)[ \t]*"
    r"|[\w$]+(?:\.[\w$]+)+[ \t]*(?::|-)[ \t]+|-[ \t]+)*"
)


def _error_lines(text: str, messages: list[_Message]) -> None:
    for match in _ERROR_WORD.finditer(text):
        messages.append(
            _Message(
                match.start(),
                _line_start(text, match.start()),
                1,
                _rest_of_line(text, match.end()),
            )
        )
    for match in _LOG_LEVEL.finditer(text):
        line = _rest_of_line(text, match.end())
        prefix = _LOG_PREFIX.match(line)
        body = line[prefix.end() :] if prefix else line
        messages.append(_Message(match.start(), _line_start(text, match.start()), 2, body))


_FRAME_LIKE = re.compile(r"[ \t]*at[ \t]+[\w$.<>/]+[ \t]*\(")


def _preference(message: _Message) -> tuple[int, int]:
    # Exception messages first, the innermost (rightmost) of a chained line before the others;
    # then "Error:" style messages, then log-level lines, each leftmost first.
    return (message.rank, -message.pos if message.rank == 0 else message.pos)


def _acceptable(message: _Message) -> str | None:
    if _FRAME_LIKE.match(message.text):
        return None  # "[ERROR]   at org.x.Y.z(Y.java:1)" is a stack frame, not a message
    normal = normalise_message(message.text)
    if normal.startswith(_BOILERPLATE) or not _is_informative(normal):
        return None
    return normal


def _pick_messages(messages: list[_Message]) -> Iterator[tuple[int, str]]:
    by_line: dict[int, list[_Message]] = {}
    for message in messages:
        by_line.setdefault(message.line, []).append(message)
    emitted = 0
    seen: set[str] = set()
    for line in sorted(by_line):
        for message in sorted(by_line[line], key=_preference):
            normal = _acceptable(message)
            if normal is None:
                continue
            if normal not in seen:
                seen.add(normal)
                yield message.pos, f"msg:{normal}"
                emitted += 1
                if emitted >= MAX_MESSAGES:
                    return
            break  # one message per line


# --- HTTP statuses -----------------------------------------------------------------------
_HTTP_CANDIDATE = re.compile(r"[1-5](?<![\w./#-][1-5])\d\d(?![\w]|[.,:]\d)", re.ASCII)
_HTTP_STRONG_LEFT = re.compile(
    r"(?:\bhttp(?:/[\d.]+)?(?:[ \t]+(?:error|status(?:[ \t]+code)?|code|response(?:[ \t]+code)?))?"
    r"|\b(?:http[_-]?)?(?:status|response)(?:[ _-]?code)?|\bhttp[_-]?code)"
    r"[\"']?[ \t]*[:=]?[ \t]*[\"']?\Z"
)
_HTTP_WEAK_LEFT = re.compile(
    r"\b(?:returned|returns|returning|return|got|gets|getting|received|receives|receiving"
    r"|responded|responds|failed|fails|failing|error|err|throws|threw)"
    r"(?:[ \t]+(?:with|an?|the|http|status|code|error|response|of))*[ \t]*[:=]?[ \t]*\Z"
)
_HTTP_REASONS = {
    400: "bad request",
    401: "unauthori",
    402: "payment required",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    406: "not acceptable",
    407: "proxy authentication",
    408: "request time",
    409: "conflict",
    410: "gone",
    411: "length required",
    412: "precondition failed",
    413: "payload too large",
    414: "uri too long",
    415: "unsupported media type",
    416: "range not satisfiable",
    421: "misdirected request",
    422: "unprocessable",
    423: "locked",
    424: "failed dependency",
    425: "too early",
    426: "upgrade required",
    428: "precondition required",
    429: "too many requests",
    431: "request header fields too large",
    451: "unavailable for legal reasons",
    500: "internal server error",
    501: "not implemented",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway time",
    505: "http version not supported",
    507: "insufficient storage",
    508: "loop detected",
}
_HTTP_WEAK_RIGHT = re.compile(r"[ \t]*(?:error|errors|response|responses|status|page|code)\b")
_UNIT_AFTER = re.compile(r"[ \t]*(%|[A-Za-z]+)")
_UNITS = _words(
    "ms s sec secs second seconds min mins minute minutes h hr hrs hour hours day days "
    "b kb mb gb tb kib mib gib bytes byte rows row records items entries results times lines "
    "files users requests tickets customers nodes pods instances threads connections px"
)


def _http_statuses(text: str) -> Iterator[tuple[int, str]]:
    for match in _HTTP_CANDIDATE.finditer(text):
        code = int(match.group(0))
        if code < 300:
            continue
        start, end = match.start(), match.end()
        unit = _UNIT_AFTER.match(text, end)
        if unit and unit.group(1).lower() in _UNITS:
            continue
        left = text[max(0, start - 40) : start].lower()
        right = text[end : end + 40].lower()
        reason = _HTTP_REASONS.get(code)
        strong = _HTTP_STRONG_LEFT.search(left) is not None or (
            reason is not None and right.lstrip(" \t-:").startswith(reason)
        )
        weak = code >= 400 and (
            _HTTP_WEAK_LEFT.search(left) is not None or _HTTP_WEAK_RIGHT.match(right) is not None
        )
        if strong or weak:
            yield start, f"http:{code}"


# --- error codes -------------------------------------------------------------------------
_ERRNO_NAMES = _words(
    "EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES "
    "EFAULT EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY "
    "EFBIG ENOSPC ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS "
    "ENOTEMPTY ELOOP EWOULDBLOCK EPROTO EOVERFLOW EILSEQ ENOTSOCK EMSGSIZE EPROTONOSUPPORT "
    "EOPNOTSUPP ENOTSUP EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH ENETRESET "
    "ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN ETIMEDOUT ECONNREFUSED "
    "EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS ESTALE EDQUOT ECANCELED ENOTFOUND "
    "ESOCKETTIMEDOUT ECONNRESETBYPEER EAI_AGAIN EAI_NONAME EAI_FAIL EAI_NODATA"
)
# Linux numbers, for Python's "[Errno 111] Connection refused".
_ERRNO_BY_NUMBER = {
    1: "EPERM",
    2: "ENOENT",
    4: "EINTR",
    5: "EIO",
    9: "EBADF",
    11: "EAGAIN",
    12: "ENOMEM",
    13: "EACCES",
    16: "EBUSY",
    17: "EEXIST",
    20: "ENOTDIR",
    21: "EISDIR",
    22: "EINVAL",
    24: "EMFILE",
    28: "ENOSPC",
    30: "EROFS",
    32: "EPIPE",
    36: "ENAMETOOLONG",
    39: "ENOTEMPTY",
    98: "EADDRINUSE",
    99: "EADDRNOTAVAIL",
    100: "ENETDOWN",
    101: "ENETUNREACH",
    103: "ECONNABORTED",
    104: "ECONNRESET",
    107: "ENOTCONN",
    110: "ETIMEDOUT",
    111: "ECONNREFUSED",
    112: "EHOSTDOWN",
    113: "EHOSTUNREACH",
    122: "EDQUOT",
    -2: "EAI_NONAME",
    -3: "EAI_AGAIN",
    -5: "EAI_NODATA",
}
_GRPC_CODES = _words(
    "CANCELLED UNKNOWN INVALID_ARGUMENT DEADLINE_EXCEEDED NOT_FOUND ALREADY_EXISTS "
    "PERMISSION_DENIED RESOURCE_EXHAUSTED FAILED_PRECONDITION ABORTED OUT_OF_RANGE "
    "UNIMPLEMENTED INTERNAL UNAVAILABLE DATA_LOSS UNAUTHENTICATED"
)
# Single words like UNAVAILABLE or INTERNAL are gRPC codes only in a gRPC context.
_GRPC_STANDALONE = frozenset(code for code in _GRPC_CODES if "_" in code) | {
    "UNIMPLEMENTED",
    "UNAUTHENTICATED",
}
_SIGNALS = _words("SEGV KILL ABRT TERM BUS ILL FPE PIPE HUP INT QUIT")


def _alternation(words: Iterable[str]) -> str:
    """Longest first, so ECONNRESETBYPEER wins over ECONNRESET."""
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class _CodeRule:
    pattern: re.Pattern[str]
    extract: Callable[[re.Match[str]], str | None]
    # Patterns do not start with \b (that makes `re` try every position, ~5x slower); the
    # start of a word is checked on each match instead.
    word_start: bool = True


def _whole(match: re.Match[str]) -> str:
    return match.group(0)


def _first(match: re.Match[str]) -> str:
    return match.group(1)


_CODE_RULES: tuple[_CodeRule, ...] = (
    _CodeRule(re.compile(r"ERR_[A-Z0-9]+(?:_[A-Z0-9]+)*\b"), _whole),
    _CodeRule(re.compile(r"(?:" + _alternation(_ERRNO_NAMES) + r")\b"), _whole),
    _CodeRule(
        re.compile(r"\[Errno (-?\d{1,3})\]"),
        lambda m: _ERRNO_BY_NUMBER.get(int(m.group(1)), f"ERRNO_{m.group(1)}"),
        word_start=False,
    ),
    _CodeRule(re.compile(r"(?:" + _alternation(_GRPC_STANDALONE) + r")\b"), _whole),
    _CodeRule(
        re.compile(
            r"(?:rpc error: code = |StatusCode\.|grpc[_-]?(?:status|code)[\"']?[ \t]*[:=][ \t]*"
            r"[\"']?|code: )([A-Za-z_]+)"
        ),
        lambda m: _grpc_code(m.group(1)),
    ),
    _CodeRule(re.compile(r"SIG(?:" + _alternation(_SIGNALS) + r")\b"), _whole),
    # Tool and vendor codes written letters+digits: E1234, TS2345, CS0246, AADSTS50076.
    _CodeRule(
        re.compile(
            r"(?:E|TS|CS|BC|LNK|MSB|NU|NETSDK|AADSTS|ERR|ERROR)\d{3,6}\b(?![.-]\d)", re.ASCII
        ),
        _whole,
    ),
    # Oracle family: ORA-00942, TNS-12541, PLS-00201, SP2-0306.
    _CodeRule(
        re.compile(r"(?:ORA|TNS|PLS|IMP|EXP|RMAN|SP2|KUP|CRS)-\d{3,5}\b(?![.-]\d)", re.ASCII),
        _whole,
    ),
    _CodeRule(
        re.compile(r"SQLSTATE[\[ :=]*([0-9A-Z]{5})\b"),
        lambda m: f"SQLSTATE_{m.group(1)}",
        word_start=False,
    ),
    _CodeRule(re.compile(r"ERROR (\d{4}) \([0-9A-Z]{5}\)"), lambda m: f"MYSQL_{m.group(1)}"),
    _CodeRule(
        re.compile(
            r"[Ee](?i:xit(?:ed)?(?: with)?(?: (?:code|status))|xit_code|xitcode)[ \t]*[:=]?[ \t]*"
            r"(\d{1,3})\b"
        ),
        lambda m: f"EXIT_{m.group(1)}" if m.group(1) != "0" else None,
    ),
    _CodeRule(re.compile(r"(?:" + _alternation(_K8S_REASONS) + r")\b"), _whole),
    # JSON error bodies: {"code": "card_declined"}, {"error": "invalid_grant"}.
    _CodeRule(
        re.compile(
            r"\"(?:code|error_code|errorCode|error)\"[ \t]*:[ \t]*"
            r"\"([A-Za-z][A-Za-z0-9]*(?:[_.-][A-Za-z0-9]+)+|[A-Z][A-Z0-9]{2,})\""
        ),
        _first,
        word_start=False,
    ),
)
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _grpc_code(name: str) -> str | None:
    code = _CAMEL_HUMP.sub("_", name).upper()
    return code if code in _GRPC_CODES else None


def _word_start(text: str, pos: int) -> bool:
    return pos == 0 or not (text[pos - 1].isalnum() or text[pos - 1] == "_")


def _codes(text: str) -> Iterator[tuple[int, str]]:
    for rule in _CODE_RULES:
        for match in rule.pattern.finditer(text):
            if rule.word_start and not _word_start(text, match.start()):
                continue
            code = rule.extract(match)
            if code:
                yield match.start(), f"code:{code}"


# --- alerts ------------------------------------------------------------------------------
_ALERT_PATTERNS = (
    re.compile(r"[aA]lert[nN]ame[\"']?[ \t]*[:=]~?[ \t]*[\"']?([A-Za-z_][\w:.-]*)"),
    re.compile(r"\[(?:FIRING|RESOLVED)(?::\d+)?\][ \t]*([A-Za-z_][\w:-]*)"),
    re.compile(
        r"[Aa](?<![\w][Aa])lert(?:[ \t]*[:=][ \t]*|[ \t]+)[\"']?"
        r"([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+)\b"
    ),
)


def _alerts(text: str) -> Iterator[tuple[int, str]]:
    for pattern in _ALERT_PATTERNS:
        for match in pattern.finditer(text):
            yield match.start(), f"alert:{match.group(1).rstrip('.:-')}"


# --- stack frames ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Frame:
    start: int
    end: int
    name: str
    runtime: bool


# "at" starts a word, or follows a JSON-escaped tab ("...\\n\\tat com.x.Y.z(Y.java:1)").
_AT = r"at(?:(?<=\\tat)|(?<![\w.$]at))[ \t]+"
_JAVA_FRAME = re.compile(
    _AT + r"(?:async[ \t]+)?(?:[\w.$@-]*/+)?"
    r"(?P<fn>[A-Za-z_$][\w$]*(?:\.[\w$<>`\[\],-]+)+)[ \t]*"
    r"\((?P<args>[^()\n]{0,300})\)(?P<after>[ \t]+in[ \t]+[^\n]{0,300}?:line[ \t]+\d+)?"
)
_JAVA_LOCATION = re.compile(
    r"[\w$.-]+\.(?:java|kt|scala|groovy|clj|cs|fs|vb):\d+|Native Method|Unknown Source"
)
_NODE_FRAME = re.compile(
    _AT + r"(?:async[ \t]+)?(?:new[ \t]+)?(?P<fn>[\w$.<>\[\]]{1,200})[ \t]+"
    r"\((?P<file>[^()\n]{1,300}?):\d+:\d+\)"
)
_NODE_LOCATION = re.compile(r".*:\d+:\d+")
_PY_FRAME = re.compile(r"File \"(?P<path>[^\"\n]{1,500})\", line \d+, in (?P<fn>[\w<>.$-]+)")
# Go prints a frame as two lines, "pkg.(*T).Method(args)" then "\t/path/file.go:12 +0x1d";
# the file line is the anchor and the function line before it is parsed without regex.
_GO_FILE_LINE = re.compile(r"\n\t[^\n]{1,500}?\.go:\d+[^\n]{0,100}")
_GO_FUNCTION = re.compile(r"[\w./*()$\[\]-]+\.[\w*()$\[\]-]+")
_GO_GOROUTINE_SUFFIX = re.compile(r" in goroutine \d+$")
_FRAME_NOISE = (
    (re.compile(r"\$\$Lambda\$\d+(?:/0x[0-9a-f]+)?|\$\$Lambda/0x[0-9a-f]+"), "$$Lambda"),
    (re.compile(r"/0x[0-9a-f]+"), ""),
    (re.compile(r"(GeneratedMethodAccessor|\$Proxy|GeneratedConstructorAccessor)\d+"), r"\1"),
)
_JAVA_RUNTIME = (
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "kotlin.",
    "kotlinx.",
    "scala.",
    "org.junit.",
    "junit.",
    "org.testng.",
    "org.apache.maven.surefire.",
    "System.",
    "Microsoft.",
)
# Gap text that still belongs to the same trace: blank lines, escaped newlines/tabs, log tags.
_SAME_TRACE_GAP = re.compile(
    r"(?:\s|\\[nrt]|\[[\w-]{1,20}\]|\||\.\.\. \d+ (?:more|common frames omitted))*"
)


def _clean_frame(name: str) -> str:
    for pattern, replacement in _FRAME_NOISE:
        name = pattern.sub(replacement, name)
    return name


def _frame_prefix_ok(text: str, pos: int) -> bool:
    """A weak frame shape counts only at the start of a line (after indentation or a tag)."""
    line = _line_start(text, pos)
    prefix = text[max(line, pos - 60) : pos]
    return _SAME_TRACE_GAP.fullmatch(prefix) is not None and (line >= pos - 60 or "\\" in prefix)


def _java_frames(text: str) -> Iterator[_Frame]:
    for match in _JAVA_FRAME.finditer(text):
        if _NODE_LOCATION.fullmatch(match.group("args")):
            continue  # a Node frame: read by `_node_frames`
        strong = match.group("after") or _JAVA_LOCATION.fullmatch(match.group("args").strip())
        if not strong and not _frame_prefix_ok(text, match.start()):
            continue
        name = _clean_frame(match.group("fn"))
        yield _Frame(match.start(), match.end(), name, name.startswith(_JAVA_RUNTIME))


def _node_frames(text: str) -> Iterator[_Frame]:
    for match in _NODE_FRAME.finditer(text):
        path = match.group("file")
        base = path.replace("\\", "/").rsplit("/", 1)[-1]
        name = f"{base}:{match.group('fn').strip()}"
        runtime = path.startswith(("node:", "internal/")) or "node_modules" in path
        yield _Frame(match.start(), match.end(), name, runtime)


def _python_module(path: str) -> str:
    path = path.replace("\\", "/")
    for marker in ("site-packages/", "dist-packages/"):
        if marker in path:
            return path.rsplit(marker, 1)[1]
    parts = path.rsplit("/", 2)
    if parts[-1] in ("__init__.py", "__main__.py") and len(parts) > 1:
        return "/".join(parts[-2:])
    return parts[-1]


def _python_frames(text: str) -> Iterator[_Frame]:
    for match in _PY_FRAME.finditer(text):
        path = match.group("path")
        normal = path.replace("\\", "/")
        runtime = ("/lib/python" in normal and "-packages/" not in normal) or normal.startswith(
            "<frozen"
        )
        name = f"{_python_module(path)}:{match.group('fn')}"
        yield _Frame(match.start(), match.end(), name, runtime)


def _go_frames(text: str) -> Iterator[_Frame]:
    if ".go:" not in text:
        return
    for match in _GO_FILE_LINE.finditer(text):
        line_start = text.rfind("\n", max(0, match.start() - 500), match.start()) + 1
        line = text[line_start : match.start()].strip()
        line = _GO_GOROUTINE_SUFFIX.sub("", line.removeprefix("created by "))
        if line.endswith(")"):
            line = line[: line.rfind("(")]  # drop the argument list
        if not _GO_FUNCTION.fullmatch(line):
            continue
        name = line
        slash = name.rfind("/")
        package = name[: name.find(".", slash + 1)]
        # Standard library packages have no dot in their first path element ("net/http").
        runtime = "." not in package.split("/", 1)[0] and package != "main"
        yield _Frame(line_start, match.end(), name, runtime)


def _same_trace(text: str, previous: _Frame, frame: _Frame, python: bool) -> bool:
    gap = text[previous.end : frame.start]
    if python:
        # Between Python frames sits one line of source code.
        return len(gap) < 400 and sum(1 for line in gap.splitlines() if line.strip()) <= 1
    return len(gap) < 400 and _SAME_TRACE_GAP.fullmatch(gap) is not None


def _traces(text: str, frames: list[_Frame], python: bool) -> Iterator[list[_Frame]]:
    trace: list[_Frame] = []
    for frame in frames:
        if trace and not _same_trace(text, trace[-1], frame, python):
            yield trace
            trace = []
        trace.append(frame)
    if trace:
        yield trace


_FRAME_SOURCES: tuple[tuple[Callable[[str], Iterator[_Frame]], bool], ...] = (
    (_java_frames, False),
    (_node_frames, False),
    (_python_frames, True),
    (_go_frames, False),
)


def _find_frames(text: str) -> list[tuple[list[_Frame], bool]]:
    return [(list(find(text)), python) for find, python in _FRAME_SOURCES]


def _stack_frames(text: str, found: list[tuple[list[_Frame], bool]]) -> Iterator[tuple[int, str]]:
    emitted = 0
    for frames, python in found:
        for trace in _traces(text, frames, python):
            # Python prints the innermost call last; the others print it first.
            ordered = trace[::-1] if python else trace
            chosen = [frame for frame in ordered if not frame.runtime][:FRAMES_PER_TRACE]
            if not chosen:
                chosen = ordered[:FRAMES_PER_TRACE]
            for frame in sorted(chosen, key=lambda f: f.start):
                yield frame.start, f"frame:{frame.name}"
                emitted += 1
                if emitted >= MAX_FRAMES:
                    return


# --- entry point -------------------------------------------------------------------------
def _bounded(text: str) -> str:
    if len(text) <= _MAX_SCAN_CHARS:
        return text
    half = _MAX_SCAN_CHARS // 2
    return text[:half] + "\n" + text[-half:]


def extract_signatures(text: str, *, limit: int = DEFAULT_LIMIT) -> list[str]:
    """Error signatures found in `text`: deduplicated, in first-seen order, at most `limit`."""
    if not text or limit <= 0:
        return []
    text = _bounded(text)
    frames = _find_frames(text)
    spans = sorted((frame.start, frame.end) for group, _ in frames for frame in group)
    starts = [start for start, _ in spans]

    def in_frame(pos: int) -> bool:
        index = bisect.bisect_right(starts, pos) - 1
        return index >= 0 and pos < spans[index][1]

    messages: list[_Message] = []
    found: list[tuple[int, str]] = []
    found.extend(_exceptions(text, messages, in_frame))
    found.extend(_go_panics(text, messages))
    _error_lines(text, messages)
    found.extend(_pick_messages(messages))
    found.extend(_http_statuses(text))
    found.extend(_codes(text))
    found.extend(_alerts(text))
    found.extend(_stack_frames(text, frames))
    found.sort(key=lambda item: item[0])  # stable: same position keeps extraction order

    signatures: list[str] = []
    seen: set[str] = set()
    for _, signature in found:
        if signature not in seen:
            seen.add(signature)
            signatures.append(signature)
            if len(signatures) >= limit:
                break
    return signatures
