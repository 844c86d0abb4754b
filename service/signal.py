"""Wakes in-process workers when a job is enqueued, so they need not wait for the next poll."""

from __future__ import annotations

import threading


class JobSignal:
    """A shared wake-up flag between whoever enqueues and the in-process workers."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self) -> None:
        """A job was enqueued."""
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Sleep until notified or the timeout passes; True when notified."""
        woke = self._event.wait(timeout)
        self._event.clear()
        return woke
