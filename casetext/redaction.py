"""PII and secret redaction, applied before text is stored, embedded or sent to an LLM.

Each kind is replaced by a typed, stable placeholder (`[EMAIL]`, `[CARD]`, ...) so the text
stays readable and neither embeddings nor lexical matching see random strings. Redaction is
idempotent: placeholders never match a rule, so redacting twice equals redacting once.

Deliberately kept (they carry diagnostic value and are not personal data): request ids and
UUIDs, hashes, error codes, HTTP statuses, timestamps, version numbers, ports, amounts,
loopback/unspecified addresses (127.0.0.0/8, 0.0.0.0, ::1, ::) and netmasks (255.x.x.x).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

from core.errors import ConfigError

# Left boundaries also exclude "]": a placeholder ends with it, and a match that was glued to
# a replaced word must stay rejected on a second pass (idempotence).
#
# Performance note: Python's `re` scans fast only for a pattern that starts with a literal or
# a character class; a leading lookbehind makes it enter the matcher at every position. So
# patterns here start with what they consume and check the left boundary afterwards.


class RedactionKind(StrEnum):
    """What a redaction rule removes."""

    email = "email"
    phone = "phone"
    card = "card"
    secret = "secret"
    bearer = "bearer"
    ip = "ip"


KINDS: frozenset[str] = frozenset(kind.value for kind in RedactionKind)

PLACEHOLDERS: Mapping[str, str] = MappingProxyType(
    {
        RedactionKind.email.value: "[EMAIL]",
        RedactionKind.phone.value: "[PHONE]",
        RedactionKind.card.value: "[CARD]",
        RedactionKind.secret.value: "[SECRET]",
        RedactionKind.bearer.value: "[TOKEN]",
        RedactionKind.ip.value: "[IP]",
    }
)
_PLACEHOLDER_VALUES = frozenset(PLACEHOLDERS.values())
_SECRET = PLACEHOLDERS["secret"]
_TOKEN = PLACEHOLDERS["bearer"]


@dataclass(frozen=True, slots=True)
class RedactionResult:
    """Redacted text and how many spans of each kind were replaced."""

    text: str
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Number of spans replaced, all kinds together."""
        return sum(self.counts.values())


# A replacer returns the new text for a match, or None to keep the match unchanged.
_Replacer = Callable[[re.Match[str]], str | None]
# A finder yields (start, end, replacement) spans in increasing, non-overlapping order.
_Finder = Callable[[str], Iterator[tuple[int, int, str]]]


class _Rule(Protocol):
    @property
    def kinds(self) -> frozenset[str]:
        """The kinds this rule redacts."""
        ...

    def apply(self, text: str, lowered: str, counts: dict[str, int]) -> str:
        """Return `text` with this rule's matches replaced, adding to `counts`."""
        ...


def _hinted(text: str, lowered: str, hints: tuple[str, ...], exact: tuple[str, ...]) -> bool:
    # Cheap substring checks that let a rule skip a text without running its regex.
    if exact and not any(hint in text for hint in exact):
        return False
    return not hints or any(hint in lowered for hint in hints)


def _count(counts: dict[str, int], kind: str, n: int) -> None:
    if n:
        counts[kind] = counts.get(kind, 0) + n


@dataclass(frozen=True, slots=True)
class _RegexRule:
    kind: str
    pattern: re.Pattern[str]
    replace: _Replacer
    # `hints` are checked against the lower-cased text, `exact_hints` against the text.
    hints: tuple[str, ...] = ()
    exact_hints: tuple[str, ...] = ()

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset((self.kind,))

    def apply(self, text: str, lowered: str, counts: dict[str, int]) -> str:
        if not _hinted(text, lowered, self.hints, self.exact_hints):
            return text
        spans: list[tuple[int, int, str]] = []
        pos = 0
        while (match := self.pattern.search(text, pos)) is not None:
            new = self.replace(match)
            if new is None:
                # Rejected: look again just after its start, not after its end, since a
                # rejected match may hide one that a second pass would find (idempotence).
                pos = match.start() + 1
                continue
            spans.append((match.start(), match.end(), new))
            pos = max(match.end(), match.start() + 1)
        text, replaced = _splice(text, spans)
        _count(counts, self.kind, replaced)
        return text


@dataclass(frozen=True, slots=True)
class _FinderRule:
    """A rule for shapes best found from a literal anchor ("@", ".", "::") outwards."""

    kind: str
    finder: _Finder
    exact_hints: tuple[str, ...] = ()

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset((self.kind,))

    def apply(self, text: str, lowered: str, counts: dict[str, int]) -> str:
        if not _hinted(text, lowered, (), self.exact_hints):
            return text
        text, replaced = _splice(text, self.finder(text))
        _count(counts, self.kind, replaced)
        return text


def _splice(text: str, spans: Iterable[tuple[int, int, str]]) -> tuple[str, int]:
    parts: list[str] = []
    last = 0
    for start, end, replacement in spans:
        parts.append(text[last:start])
        parts.append(replacement)
        last = end
    if not parts:
        return text, 0
    parts.append(text[last:])
    return "".join(parts), len(parts) // 2


def _with_cred(match: re.Match[str], placeholder: str) -> str:
    """The whole match with only its `cred` group replaced."""
    start, end = match.span("cred")
    base = match.start()
    whole = match.group(0)
    return whole[: start - base] + placeholder + whole[end - base :]


def _always(placeholder: str) -> _Replacer:
    def replace(match: re.Match[str]) -> str:
        return placeholder

    return replace


# --- secrets -----------------------------------------------------------------------------
_PEM_BEGIN = re.compile(r"-----BEGIN (?P<label>[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----")
# A truncated paste has no footer: then the base64 lines that follow the header go, also
# across JSON-escaped "\n" separators.
_PEM_BODY = re.compile(r"(?:(?:\s|\\n)+(?:[A-Za-z0-9+/=]{16,}|Proc-Type:[^\n]*|DEK-Info:[^\n]*))*")
# The largest private keys (RSA 8192, PEM) are under 7 KB; the footer is looked for only
# that far, so a text full of headers stays linear.
_PEM_MAX_CHARS = 16_384


def _find_pem_blocks(text: str) -> Iterator[tuple[int, int, str]]:
    pos = 0
    while (begin := _PEM_BEGIN.search(text, pos)) is not None:
        footer = f"-----END {begin.group('label')}-----"
        end = text.find(footer, begin.end(), begin.end() + _PEM_MAX_CHARS)
        if end >= 0:
            pos = end + len(footer)
        else:
            body = _PEM_BODY.match(text, begin.end())
            pos = body.end() if body else begin.end()
        yield begin.start(), pos, _SECRET


_URL_CREDENTIALS = re.compile(r"://(?P<cred>[^\s/@:?#\[\]]*:[^\s/@?#]+)@")


# Vendor token shapes, grouped by a shared literal prefix: a pattern that starts with a
# literal is scanned fast, and one scan per prefix keeps the number of passes low. The
# lookbehind after the literal checks that it starts a word (so "task-..." is no "sk-" key).
_VENDOR_TOKENS: tuple[tuple[str, str], ...] = (
    # Stripe secret/restricted keys; OpenAI and Anthropic style keys.
    ("sk", r"(?:_(?:live|test)_[0-9A-Za-z]{10,}|-[A-Za-z0-9_-]{20,})"),
    ("rk_", r"(?:live|test)_[0-9A-Za-z]{10,}"),
    ("whsec_", r"[0-9A-Za-z]{16,}"),  # Stripe webhook secrets
    # AWS access key ids and Google API keys.
    ("A", r"(?:KIA[0-9A-Z]{16}\b|SIA[0-9A-Z]{16}\b|Iza[0-9A-Za-z_-]{35})"),
    ("gh", r"[pousr]_[A-Za-z0-9]{30,}"),  # GitHub
    ("github_pat_", r"[A-Za-z0-9_]{22,}"),
    ("glpat-", r"[A-Za-z0-9_-]{20,}"),  # GitLab
    ("xox", r"[abposr]-[A-Za-z0-9-]{10,}"),  # Slack
    ("npm_", r"[A-Za-z0-9]{36}"),
    ("eyJ", r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWT
)


def _vendor_token(prefix: str, rest: str) -> re.Pattern[str]:
    escaped = re.escape(prefix)
    return re.compile(escaped + r"(?<![A-Za-z0-9_\]]" + escaped + ")" + rest)


# Key names whose value is a secret: db_password, x-api-key, AWS_SECRET_ACCESS_KEY, ...
# The keyword must start the key or follow a separator ("_", ".", "-"), and end it.
_SECRET_KEYWORDS = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "pass",
    "secret(?:[_-]?key)?",
    "token",
    "api[_-]?key",
    "apikey",
    "access[_-]?key",
    "private[_-]?key",
    "client[_-]?secret",
    "credentials?",
)
_KEY_FIRST = "".join(
    sorted({k[0] for k in _SECRET_KEYWORDS} | {k[0].upper() for k in _SECRET_KEYWORDS})
)
_KEY_VALUE = re.compile(
    rf"(?P<key>[{_KEY_FIRST}](?<![A-Za-z0-9\]][{_KEY_FIRST}])"
    r"(?i:" + "|".join(f"(?<={k[0]}){k[1:]}" for k in _SECRET_KEYWORDS) + r"))(?![\w-])"
    r"[\"']?[ \t]*(?P<op>=>|:=|[:=])[ \t]*"
    r"(?:(?P<q>[\"'])(?P<qval>(?:\\.|(?!(?P=q))[^\\\n])*)(?P=q)"
    r"|(?P<val>[^\s\"'\[<{(][^\s\"',;&)}\[\]>]*))"
)
_KEY_VALUE_HINTS = ("pass", "pwd", "secret", "token", "key", "credential")

# Values that are not secrets: empty markers, booleans and references to a secret elsewhere.
_NOT_A_SECRET = re.compile(
    r"(?i:null|none|nil|true|false|undefined|redacted|\*+|x+|\.+)"
    r"|\$\{[^}]*\}?|\{\{.*\}\}|<[^>]*>?|%\([^)]*\)s?|\$[A-Z_][A-Z0-9_]*|\$\(?"
)
_PASSWORDY = re.compile(r"[0-9!@#$%^&*+/=?~]")
# Code rather than configuration: `password = getPassword(...)`, `token = new Token()`.
_CODE_VALUE = re.compile(r"[A-Za-z_][\w.]*\(|(?:new|this|self|await)\Z")
# After a colon, a nested pair ("TOKEN: code=82") or a dotted name (an exception class,
# a host) is a description, not the credential itself.
_DESCRIPTIVE_VALUE = re.compile(r"[A-Za-z_]\w*=.*|[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)+")


def _replace_key_value(match: re.Match[str]) -> str | None:
    key = match.group("key")
    if key.lower() == "pass":
        # A bare "pass" is test output ("PASS: test_x"); only prefixed keys (db_pass) count.
        start = match.start()
        if start == 0 or match.string[start - 1] not in "_.-":
            return None
    quoted = match.group("q") is not None
    value = match.group("qval") if quoted else match.group("val")
    if not value or value in _PLACEHOLDER_VALUES or _NOT_A_SECRET.fullmatch(value):
        return None
    if not quoted and _CODE_VALUE.match(value):
        return None
    if not quoted and match.string.startswith("[", match.end()):
        rest = match.string[match.end() : match.end() + 8]
        if any(rest.startswith(placeholder) for placeholder in _PLACEHOLDER_VALUES):
            return None  # the value went on, and a later rule replaced the rest on a prior pass
    # "invalid token: expired" is a diagnosis, "password: hunter2" a secret: an unquoted value
    # after a colon must look like a credential (a digit or symbol, or long).
    looks_secret = len(value) >= 20 or (len(value) >= 6 and _PASSWORDY.search(value))
    if (
        not quoted
        and match.group("op") == ":"
        and (not looks_secret or _DESCRIPTIVE_VALUE.fullmatch(value))
    ):
        return None
    start, end = match.span("qval" if quoted else "val")
    base = match.start()
    whole = match.group(0)
    return whole[: start - base] + _SECRET + whole[end - base :]


# --- bearer / auth headers ---------------------------------------------------------------
_AUTH_SCHEMES = ("bearer", "basic", "token", "digest", "negotiate", "ntlm", "apikey", "sso-key")
_AUTH_HEADER = re.compile(
    r"[aApP](?<![\w\]-][aApP])(?i:(?<=a)uthorization|(?<=p)roxy-authorization)"
    r"[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"(?:(?i:" + "|".join(_AUTH_SCHEMES) + r")[ \t]+)?"
    r"(?P<cred>[^\s\"',;]+)"
)
_COOKIE_HEADER = re.compile(
    r"[cCsS](?<![\w\]-][cCsS])(?i:(?<=c)ookie|(?<=s)et-cookie)[\"']?[ \t]*:[ \t]*[\"']?"
    r"(?P<cred>[^\r\n\"']*=[^\r\n\"']*)"
)
_BARE_BEARER = re.compile(
    r"[bB](?<![\w\]][bB])(?:earer|asic|EARER|ASIC)[ \t]+(?!(?i:bearer|basic)\b)"
    r"(?P<cred>[A-Za-z0-9._~+/-]+=*)(?![\w.~+/\[-])"
)
_INNER_UPPER = re.compile(r"[a-z0-9][A-Z]")


def _replace_header(match: re.Match[str]) -> str | None:
    cred = match.group("cred")
    if cred in _PLACEHOLDER_VALUES or cred.lower() in _AUTH_SCHEMES:
        return None
    return _with_cred(match, _TOKEN)


def _replace_bare_bearer(match: re.Match[str]) -> str | None:
    # Outside a header, "Bearer"/"Basic" is often plain English ("basic configuration"):
    # only a credential-looking word (long, with digits, inner capitals or base64 symbols).
    cred = match.group("cred")
    if len(cred) < 12 or cred in _PLACEHOLDER_VALUES:
        return None
    if not (any(ch.isdigit() or ch in "+/=" for ch in cred) or _INNER_UPPER.search(cred)):
        return None
    return _with_cred(match, _TOKEN)


# --- email -------------------------------------------------------------------------------
# Anchored on "@" (a fast literal scan); the local part is found by walking back.
_EMAIL_DOMAIN = re.compile(r"@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}(?![\w-])")
_EMAIL_LOCAL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
)
_EMAIL_LOCAL_MAX = 64


def _find_emails(text: str) -> Iterator[tuple[int, int, str]]:
    placeholder = PLACEHOLDERS["email"]
    last_end = 0
    for match in _EMAIL_DOMAIN.finditer(text):
        at = match.start()
        start = at
        floor = max(last_end, at - _EMAIL_LOCAL_MAX)
        while start > floor and text[start - 1] in _EMAIL_LOCAL_CHARS:
            start -= 1
        while start < at and not text[start].isalnum():
            start += 1  # a local part starts with a letter or digit
        if start == at or (start > 0 and text[start - 1].isalnum()):
            continue  # no local part, or one longer than an address allows
        if text[start:at] == "git":
            continue  # git@github.com:org/repo is an SSH remote, not a person
        yield start, match.end(), placeholder
        last_end = match.end()


# --- payment cards and phone numbers ------------------------------------------------------
_CARD_SEPARATORS = re.compile(r"[ -]")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_brand_ok(digits: str) -> bool:
    # Issuer prefixes and lengths (Visa, Mastercard, Amex, Discover, UnionPay, JCB, Diners,
    # Maestro) rule out most long ids and timestamps that happen to pass Luhn.
    n = len(digits)
    p2, p3, p4 = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16
    if p2 in (34, 37):
        return n == 15
    if p4 == 6011 or 644 <= p3 <= 649 or p2 in (62, 65) or 3528 <= p4 <= 3589:
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):
        return 14 <= n <= 19
    return p2 in (50, 56, 57, 58) or p4 in (6304, 6759)


def _is_card(raw: str) -> bool:
    groups = _CARD_SEPARATORS.split(raw)
    if len(groups) > 1:
        # Cards are written in blocks (4-4-4-4, Amex 4-6-5) with one kind of separator.
        if len(set(_CARD_SEPARATORS.findall(raw))) != 1:
            return False
        if len(groups[0]) != 4 or any(not 3 <= len(group) <= 6 for group in groups):
            return False
    digits = "".join(groups)
    return 13 <= len(digits) <= 19 and _card_brand_ok(digits) and _luhn_ok(digits)


_DIGIT_RUN = re.compile(r"\d+", re.ASCII)
_FIRST_NUMBER = re.compile(r"[+(]?\d+\)?", re.ASCII)


def _card_prefix(raw: str) -> int:
    """Length of the longest card at the start of a rejected candidate (0 if none).

    The scanner is greedy, so a card followed by another number ("378282246310005 4111")
    arrives as one candidate.
    """
    ends = [m.end() for m in _DIGIT_RUN.finditer(raw)]
    for end in reversed(ends[:-1]):
        if _is_card(raw[:end]):
            return end
    return 0


def _phone_prefix(raw: str) -> int:
    """Length of the longest phone at the start of a too-long "+" candidate (0 if none)."""
    if not raw.startswith("+"):
        return 0
    ends = [m.end() for m in _DIGIT_RUN.finditer(raw)]
    for end in reversed(ends[:-1]):
        if _is_phone(raw[:end]):
            return end
    return 0


_PHONE_BODY = (
    # International: +CC then separated groups, or +CC with 8-15 digits run together.
    r"(?<=\+)\d{1,3}(?:[ .-]?\(\d{1,4}\)[ .-]?\d{1,5})?(?:[ .-]\d{1,6}){1,5}"
    r"|(?<=\+)\d{8,15}"
    # North American: (202) 555-0143, 202-555-0143, 202.555.0143, 1-202-555-0143.
    r"|(?:(?<=1)[ .-]?(?:\([2-9]\d{2}\)[ .-]?|[2-9]\d{2}[ .-])"
    r"|(?<=\()[2-9]\d{2}\)[ .-]?"
    r"|(?<=[2-9])\d{2}[ .-])"
    r"[2-9]\d{2}[ .-]\d{4}"
)
_PHONE_END = r"(?![\w]|[.-]?\d)"
_NUMBER_START = r"[+(\d](?<![\w+.\]-][+(\d])"
_PHONE = re.compile(_NUMBER_START + "(?:" + _PHONE_BODY + ")" + _PHONE_END, re.ASCII)
# Cards and phones in one pass, phones first: digits are frequent in logs and each regex
# pass pays for every digit. A card number can never take the phone branch (its first
# block has four digits, or it has no separators at all).
_CARD_OR_PHONE = re.compile(
    _NUMBER_START + "(?:(?P<phone>(?:" + _PHONE_BODY + ")" + _PHONE_END + ")"
    r"|(?<=\d)(?P<card>(?:[ -]?\d){12,18})(?![\w]|[.,-]\d))",
    re.ASCII,
)
# Even one pass costs ~0.1 us per digit, so first a cheap test on the text's "shape"
# (ASCII digits as 0, letters as a): every card or phone shows one of these there. The
# shape regex starts with a literal, which `re` scans for fast.
_SHAPE = str.maketrans(
    "123456789bcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "000000000" + "a" * 51,
)
_CARD_OR_PHONE_SHAPE = re.compile(r"000(?:[ .-]000[ .-]0000|0[ -]000|0{10})")
_CARD_OR_PHONE_NEEDLES = ("+0", "(000)")


def _is_phone(raw: str) -> bool:
    return not raw.startswith("+") or 8 <= sum(ch.isdigit() for ch in raw) <= 15


@dataclass(frozen=True, slots=True)
class _CardPhoneRule:
    card: bool
    phone: bool

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(kind for kind, on in (("card", self.card), ("phone", self.phone)) if on)

    def apply(self, text: str, lowered: str, counts: dict[str, int]) -> str:
        shape = text.translate(_SHAPE)
        if _CARD_OR_PHONE_SHAPE.search(shape) is None and not any(
            needle in shape for needle in _CARD_OR_PHONE_NEEDLES
        ):
            return text
        spans: list[tuple[int, int, str]] = []
        pos = 0
        while (match := _CARD_OR_PHONE.search(text, pos)) is not None:
            start, raw = match.start(), match.group(0)
            kind = "phone" if match.group("phone") is not None else "card"
            wanted = self.phone if kind == "phone" else self.card
            if _is_phone(raw) if kind == "phone" else _is_card(raw):
                if wanted:
                    spans.append((start, match.end(), kind))
                pos = match.end()
                continue
            prefix = (_card_prefix(raw) if kind == "card" else _phone_prefix(raw)) if wanted else 0
            if prefix:
                spans.append((start, start + prefix, kind))
                pos = start + prefix
                continue
            # Rejected: scan again from the next number inside the candidate, which may
            # start a card or phone of its own ("123 202 555 0143").
            first = _FIRST_NUMBER.match(raw)
            pos = start + (first.end() if first else 1)
        for _, _, kind in spans:
            _count(counts, kind, 1)
        return _splice(text, ((start, end, PLACEHOLDERS[kind]) for start, end, kind in spans))[0]


# --- IP addresses ------------------------------------------------------------------------
# IPv4 is anchored on its dots (far rarer than digits); the first octet is found by walking
# back. "version 1.2.3.4" and "v1.2.3.4" are versions, "jackson-2.10.5.1" a jar, not hosts.
_IPV4_TAIL = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)", re.ASCII)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Octets in range and without leading zeros, first octet neither 127 nor 255.
_IPV4_OCTETS = re.compile(r"(?!127\.|255\.)" + _OCTET + r"(?:\." + _OCTET + r"){3}", re.ASCII)
# Four-part versions parse as addresses too; these contexts say "version": "version
# 10.0.0.1", "upgrade to 2.13.2.2", "bump snappy-java to 1.1.8.2", "1.2.6 --> 1.2.6.1",
# "17.0.1.0 (build 17", "8.54.0.21-CA", "jar:3.20.4.2:compile". An arrow or "to" between two
# four-part numbers is as likely a network flow as an upgrade, so both are redacted then.
_NOT_QUAD = r"(?:\d+(?:\.\d+){1,2}|\d+(?:\.\d+){4,})"
_VERSION_WORDS_BEFORE = re.compile(
    r"(?:\b(?:version|ver|release|build|rev|revision|firmware|driver|jdk|jre)"
    r"(?:\s+(?:is|was|of|from|to))?[\s:=>]*"
    r"|\b(?:upgrade|update|bump|move|downgrade|pin)\w*(?:\s+up)?\s+to\s+(?:either\s+)?"
    r"|\b(?:upgrade|update|bump|downgrade)\w*\b[^\n]{0,30}?"
    r"[a-z][a-z0-9]*(?:[-:][a-z][a-z0-9]*)+[ \t]+(?:to|from)[ \t]+"
    r"|\b(?:patched|fixed)\s+in\s+|:(?:jar|pom|war|aar):)\Z"
)
# Substrings one of which every match of the pattern above contains; most windows have none.
_VERSION_WORD_HINTS = (
    "ver",
    "rel",
    "build",
    "rev",
    "firmware",
    "driver",
    "jdk",
    "jre",
    "upgrad",
    "updat",
    "bump",
    "move",
    "downgrad",
    "pin",
    "patched",
    "fixed",
    "ar:",
    "om:",
)
_VERSION_ARROW_BEFORE = re.compile(r"(?:^|[^\d.])" + _NOT_QUAD + r"[ \t]*(?:-+>|=>|to)[ \t]*\Z")
# Same line only, mirroring the look-behind above, so both sides of an arrow agree.
_VERSION_AFTER = re.compile(
    r"[:-][A-Za-z]|\.jar\b|</|[ \t]*\((?:build|rev)"
    r"|[ \t]*(?:-+>|=>|to)[ \t]*" + _NOT_QUAD + r"(?!\d|\.\d)"
)
_DIGITS = frozenset("0123456789")


def _public_address(address: ipaddress.IPv6Address) -> bool:
    return not (address.is_loopback or address.is_unspecified)


def _ipv4_to_redact(raw: str) -> bool:
    # Checked by regex, not `ipaddress`: that costs microseconds and logs hold many addresses.
    # Loopback and unspecified identify no one; 255.x.x.x is a netmask.
    return _IPV4_OCTETS.fullmatch(raw) is not None and raw != "0.0.0.0"


def _find_ipv4(text: str) -> Iterator[tuple[int, int, str]]:
    placeholder = PLACEHOLDERS["ip"]
    pos = 0
    while (tail := _IPV4_TAIL.search(text, pos)) is not None:
        dot = tail.start()
        start = dot
        while start > dot - 3 and start > 0 and text[start - 1] in _DIGITS:
            start -= 1
        pos = dot + 1
        if start == dot or (start > 0 and _glued(text, start)):
            continue
        raw = text[start : tail.end()]
        if not _ipv4_to_redact(raw):
            continue
        if _is_version_context(text, start, tail.end()):
            continue
        pos = tail.end()
        yield start, tail.end(), placeholder


def _is_version_context(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40) : start]
    before = before[before.rfind("\n") + 1 :].lower()
    if any(hint in before for hint in _VERSION_WORD_HINTS) and _VERSION_WORDS_BEFORE.search(before):
        return True
    if ("to" in before or ">" in before) and _VERSION_ARROW_BEFORE.search(before):
        return True
    return _VERSION_AFTER.match(text, end) is not None


def _glued(text: str, start: int) -> bool:
    """Whether the number at `start` continues a word, version or jar name (x1.2, a-1.2)."""
    before = text[start - 1]
    if before.isalnum() or before in "._]":
        return True
    return before == "-" and start > 1 and (text[start - 2].isalnum() or text[start - 2] == "]")


# IPv6 needs "::" or seven colons; anchoring on that keeps timestamps (12:00:00) and MACs
# cheap to skip. The candidate is then re-read from its left end and checked by `ipaddress`.
_IPV6_ANCHOR = re.compile(r":(?::|[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){5}:)")
_IPV6_CANDIDATE = re.compile(
    r"(?<![\w:.\]])[0-9A-Fa-f:]{2,39}"
    # An IPv4 tail may be followed by a port; "[" after a candidate is a placeholder left by
    # the IPv4 rule on an earlier pass (kept apart so redaction stays idempotent).
    r"(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3}(?:%[A-Za-z0-9_.]+)?(?![\w\[]|\.\d)"
    r"|(?:%[A-Za-z0-9_.]+)?(?![\w:\[]|\.\d))"
)
_HEX_COLON = frozenset("0123456789abcdefABCDEF:")


def _find_ipv6(text: str) -> Iterator[tuple[int, int, str]]:
    placeholder = PLACEHOLDERS["ip"]
    pos = 0
    while (anchor := _IPV6_ANCHOR.search(text, pos)) is not None:
        start = anchor.start()
        floor = max(pos, start - 39)
        while start > floor and text[start - 1] in _HEX_COLON:
            start -= 1
        candidate = _IPV6_CANDIDATE.match(text, start)
        if candidate is None or candidate.end() <= anchor.start():
            pos = anchor.end()
            continue
        pos = candidate.end()
        raw = candidate.group(0)
        if not any(ch.isdigit() for ch in raw.split("%", 1)[0]):
            continue  # Bad::add is C++, not an address
        try:
            address = ipaddress.IPv6Address(raw)
        except ValueError:
            continue
        if _public_address(address):
            yield candidate.start(), candidate.end(), placeholder


# --- rule table --------------------------------------------------------------------------
# Order matters: whole blocks and contextual forms (PEM, URL credentials, headers, key=value)
# run before the generic shapes (emails, numbers), so a credential URL is not half an email.
def _build_rules(kinds: frozenset[str]) -> tuple[_Rule, ...]:
    rules: list[_Rule] = [
        _FinderRule("secret", _find_pem_blocks, exact_hints=("-----BEGIN",)),
        _RegexRule(
            "secret",
            _URL_CREDENTIALS,
            lambda match: _with_cred(match, _SECRET),
            exact_hints=("://",),
        ),
        _RegexRule("bearer", _AUTH_HEADER, _replace_header, hints=("authorization",)),
        _RegexRule("bearer", _COOKIE_HEADER, _replace_header, hints=("cookie",)),
        _RegexRule("bearer", _BARE_BEARER, _replace_bare_bearer, hints=("bearer", "basic")),
        _RegexRule("secret", _KEY_VALUE, _replace_key_value, hints=_KEY_VALUE_HINTS),
        *(
            _RegexRule("secret", _vendor_token(prefix, rest), _always(_SECRET))
            for prefix, rest in _VENDOR_TOKENS
        ),
        _FinderRule("email", _find_emails, exact_hints=("@",)),
        _CardPhoneRule(card="card" in kinds, phone="phone" in kinds),
        # IPv6 first: its IPv4 tail (::ffff:10.0.0.1) belongs to it.
        _FinderRule("ip", _find_ipv6, exact_hints=(":",)),
        _FinderRule("ip", _find_ipv4, exact_hints=(".",)),
    ]
    return tuple(rule for rule in rules if rule.kinds and rule.kinds <= kinds)


class Redactor:
    """Replaces PII and secrets of the configured kinds with typed placeholders."""

    def __init__(self, kinds: Iterable[str] | None = None) -> None:
        """Redact the given kinds (default: all of `KINDS`)."""
        if isinstance(kinds, str):
            kinds = (kinds,)
        chosen = KINDS if kinds is None else frozenset(str(kind).lower() for kind in kinds)
        unknown = chosen - KINDS
        if unknown:
            raise ConfigError(
                f"unknown redaction kind(s): {', '.join(sorted(unknown))}",
                unknown=sorted(unknown),
                allowed=sorted(KINDS),
            )
        self._kinds = chosen
        self._rules = _build_rules(chosen)

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds this redactor removes."""
        return self._kinds

    def __repr__(self) -> str:
        return f"Redactor(kinds={sorted(self._kinds)!r})"

    def redact(self, text: str) -> RedactionResult:
        """Redact `text`; returns the new text and per-kind replacement counts."""
        if not text:
            return RedactionResult(text=text)
        counts: dict[str, int] = {}
        lowered = text.lower()
        for rule in self._rules:
            new = rule.apply(text, lowered, counts)
            if new != text:
                text = new
                lowered = text.lower()
        return RedactionResult(text=text, counts=counts)

    def redact_text(self, text: str) -> str:
        """Redact `text` and return only the redacted string."""
        return self.redact(text).text


@functools.cache
def _default_redactor() -> Redactor:
    return Redactor()


def redact(text: str) -> RedactionResult:
    """Redact every kind from `text` with the default redactor."""
    return _default_redactor().redact(text)


def redact_text(text: str) -> str:
    """Redact every kind from `text` and return only the redacted string."""
    return _default_redactor().redact(text).text
