"""Token-bucket rate limiting per key (API key id, client address, ...).

The buckets live in process memory: with several workers each enforces the limit on its own
share of the traffic, so the effective limit is `per_minute * workers`. A shared limit needs a
shared store (Redis, the database) behind the same `hit` interface.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import RateLimited


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Allows `per_minute` hits per key on average and up to `burst` at once; 0 disables it."""

    def __init__(
        self,
        per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if burst is not None and burst < 1:
            raise ValueError("burst must be at least 1")
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.per_minute = per_minute
        self.capacity = float(burst if burst is not None else max(per_minute, 1))
        self.rate = per_minute / 60.0  # tokens per second
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        # Least recently hit first, so idle buckets are found at the front.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Whether hits are limited at all."""
        return self.per_minute > 0

    @property
    def tracked_keys(self) -> int:
        """How many buckets are held in memory."""
        return len(self._buckets)

    def hit(self, key: str) -> None:
        """Take one token from the key's bucket; raise RateLimited with retry_after if empty."""
        if not self.enabled:
            return
        with self._lock:
            # Read the clock under the lock so bucket times never go backwards.
            now = self._clock()
            self._evict(now)
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    # More active keys than the cap: forget the least recently seen one
                    # (erring towards allowing rather than growing without bound).
                    self._buckets.popitem(last=False)
                bucket = _Bucket(self.capacity, now)
                self._buckets[key] = bucket
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
                bucket.updated = now
                self._buckets.move_to_end(key)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            retry_after = (1.0 - bucket.tokens) / self.rate
        raise RateLimited(
            f"Rate limit exceeded ({self.per_minute} requests per minute)",
            retry_after=retry_after,
            limit_per_minute=self.per_minute,
        )

    def _evict(self, now: float) -> None:
        # A bucket idle long enough to refill completely is the same as no bucket, so dropping
        # it loses nothing; the least recently hit are at the front.
        full_after = self.capacity / self.rate
        while self._buckets:
            key, bucket = next(iter(self._buckets.items()))
            if now - bucket.updated < full_after:
                break
            del self._buckets[key]
