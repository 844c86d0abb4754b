"""Token counting with tiktoken, for chunk sizing and LLM token budgets.

Encodings load from the BPE files litellm ships (see `core.offline`), never from the
network; they are built on first use and cached per process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.offline import configure_offline_env

if TYPE_CHECKING:
    import tiktoken

DEFAULT_ENCODING = "cl100k_base"

_ENCODINGS: dict[str, tiktoken.Encoding] = {}
_LOCK = threading.Lock()


def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """The tiktoken encoding called `name`, loaded offline once and then cached."""
    encoding = _ENCODINGS.get(name)
    if encoding is not None:
        return encoding
    with _LOCK:
        encoding = _ENCODINGS.get(name)
        if encoding is None:
            # Must run before tiktoken resolves its cache dir, or it would try to download.
            configure_offline_env()
            import tiktoken

            try:
                encoding = tiktoken.get_encoding(name)
            except Exception as exc:  # tiktoken raises ValueError, requests or OS errors
                raise ConfigError(
                    f"tokenizer encoding {name!r} is not available offline: {exc}",
                    encoding=name,
                ) from exc
            _ENCODINGS[name] = encoding
    return encoding


class TokenCounter:
    """Counts, encodes, truncates and windows text in tiktoken tokens.

    Special-token markers such as `<|endoftext|>` are counted as ordinary text, so
    untrusted input never raises.
    """

    def __init__(self, encoding: str = DEFAULT_ENCODING) -> None:
        self.encoding_name = encoding
        self._encoding: tiktoken.Encoding | None = None

    def __repr__(self) -> str:
        return f"TokenCounter(encoding={self.encoding_name!r})"

    @property
    def encoding(self) -> tiktoken.Encoding:
        """The underlying tiktoken encoding (loaded on first use)."""
        if self._encoding is None:
            self._encoding = get_encoding(self.encoding_name)
        return self._encoding

    def count(self, text: str) -> int:
        """Number of tokens in `text`."""
        if not text:
            return 0
        return len(self.encoding.encode_ordinary(text))

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`."""
        return self.encoding.encode_ordinary(text)

    def decode(self, tokens: Sequence[int]) -> str:
        """Text of token ids; a multi-byte character cut at either end is dropped."""
        return self.encoding.decode_bytes(list(tokens)).decode("utf-8", errors="ignore")

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` (cut at a token boundary) of at most `max_tokens`."""
        if max_tokens <= 0 or not text:
            return ""
        windows = self._windows(text, max_tokens, 0, first_only=True)
        return windows[0] if windows else ""

    def tail(self, text: str, max_tokens: int) -> str:
        """The longest suffix of `text` (cut at a token boundary) of at most `max_tokens`."""
        if max_tokens <= 0 or not text:
            return ""
        tokens = self.encoding.encode_ordinary(text)
        if len(tokens) <= max_tokens:
            return text
        decoded, starts = self.encoding.decode_with_offsets(tokens)
        if decoded != text:
            text = decoded
        i = len(tokens) - max_tokens
        suffix = text[starts[i] :]
        while i < len(tokens) - 1 and self.count(suffix) > max_tokens:
            i += 1
            suffix = text[starts[i] :]
        return suffix

    def split(self, text: str, max_tokens: int, overlap_tokens: int = 0) -> list[str]:
        """Cut `text` into consecutive substrings of at most `max_tokens` tokens each.

        Consecutive pieces share about `overlap_tokens` tokens (at most half a piece).
        Pieces are exact substrings of `text` (cuts fall on character boundaries), so
        joining the pieces made without overlap restores the text.
        """
        if max_tokens <= 0:
            raise ValueError("max_tokens must be positive")
        if not text:
            return []
        overlap = max(0, min(overlap_tokens, max_tokens // 2))
        return self._windows(text, max_tokens, overlap, first_only=False)

    def _windows(self, text: str, max_tokens: int, overlap: int, *, first_only: bool) -> list[str]:
        tokens = self.encoding.encode_ordinary(text)
        if len(tokens) <= max_tokens:
            return [text]
        decoded, starts = self.encoding.decode_with_offsets(tokens)
        if decoded != text:
            # Lone surrogates and the like do not survive a round trip; window what does.
            text = decoded
        n = len(tokens)
        bounds = [*starts, len(text)]
        pieces: list[str] = []
        i = 0
        while i < n:
            j = min(n, i + max_tokens)
            # A token that starts mid-character shares its start with the previous one;
            # move the cut back to a real character boundary.
            while j < n and j > i + 1 and bounds[j] == bounds[j - 1]:
                j -= 1
            piece = text[bounds[i] : bounds[j]]
            # Re-tokenising a substring can differ from the slice of tokens; shrink until
            # the piece counts within the limit on its own.
            while j > i + 1 and len(self.encoding.encode_ordinary(piece)) > max_tokens:
                j -= 1
                piece = text[bounds[i] : bounds[j]]
            if piece:
                pieces.append(piece)
            if first_only or j >= n:
                break
            nxt = max(j - overlap, i + 1)
            # Never start a window inside a character, and always move forward.
            while nxt < j and bounds[nxt] == bounds[nxt - 1]:
                nxt += 1
            i = nxt
        return pieces
