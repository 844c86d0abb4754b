"""Runs durable jobs: claim with a lease, heartbeat while working, finish exactly once.

Long work (triage, ingest) runs outside any transaction; its effects are written in the
same transaction that marks the job done, and only if this worker still holds the job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from sqlalchemy.orm import Session

from core.errors import CasebookError, LostClaim, NotFound, ValidationFailed
from service.signal import JobSignal
from storage.jobs import JobQueue
from storage.records import JobRecord

log = logging.getLogger(__name__)

Apply = Callable[[Session], dict[str, Any]]


class JobHandler(Protocol):
    """Does one kind of job; `execute` returns how to write its effects."""

    def execute(self, job: JobRecord) -> Apply:
        """Do the work (no database writes) and return the function that stores its result."""
        ...


def _retryable(exc: BaseException) -> bool:
    # Bad input will not get better by retrying; infrastructure failures may.
    return not isinstance(exc, ValidationFailed | NotFound)


class Worker:
    """Drains the job queue in one or more threads of this process."""

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, JobHandler],
        *,
        worker_id: str | None = None,
        poll_s: float = 1.0,
        signal: JobSignal | None = None,
        on_outcome: Callable[[JobRecord, str, float], None] | None = None,
    ) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.poll_s = poll_s
        self.signal = signal or JobSignal()
        self.on_outcome = on_outcome
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def run_once(self, *, thread_tag: str = "") -> bool:
        """Claim and run one job; False when none was due."""
        job = self.queue.claim(f"{self.worker_id}{thread_tag}", kinds=list(self.handlers))
        if job is None:
            return False
        started = time.perf_counter()
        outcome = self._run(job)
        if self.on_outcome is not None:
            self.on_outcome(job, outcome, time.perf_counter() - started)
        return True

    def _run(self, job: JobRecord) -> str:
        beat = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(job, beat), daemon=True)
        heart.start()
        try:
            apply = self.handlers[job.kind].execute(job)
            with self.queue.db.write() as session:
                result = apply(session)
                if not self.queue.complete(session, job, result):
                    # Raising rolls back what `apply` wrote: the new holder's run counts.
                    raise LostClaim(f"job {job.id} was taken over; result dropped")
            log.info("job done", extra={"fields": {"job_id": job.id, "kind": job.kind}})
            return "done"
        except LostClaim:
            log.warning("job lost", extra={"fields": {"job_id": job.id}})
            return "lost"
        except Exception as exc:  # every failure is recorded on the job, never swallowed
            error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
            record = self.queue.fail(job, error, retryable=_retryable(exc))
            state = record.state if record else "lost"
            log.warning(
                "job failed",
                extra={"fields": {"job_id": job.id, "error": type(exc).__name__, "state": state}},
            )
            return "dead" if state == "dead" else "retry"
        finally:
            beat.set()
            heart.join(timeout=5)

    def _heartbeat(self, job: JobRecord, done: threading.Event) -> None:
        interval = max(0.05, self.queue.lease_s / 3)
        while not done.wait(interval):
            try:
                if not self.queue.heartbeat(job):
                    return
            except CasebookError:
                log.warning("heartbeat failed", extra={"fields": {"job_id": job.id}})

    def run_forever(self, *, thread_tag: str = "") -> None:
        """Work until stop() is called; sleep until notified or the next poll when idle."""
        while not self._stop.is_set():
            try:
                busy = self.run_once(thread_tag=thread_tag)
            except CasebookError as exc:
                log.error("worker could not claim a job: %s", exc.code)
                busy = False
            if not busy:
                self.signal.wait(self.poll_s)

    def start(self, threads: int = 1) -> None:
        """Start background worker threads in this process."""
        for n in range(threads):
            t = threading.Thread(
                target=self.run_forever,
                kwargs={"thread_tag": f"/{n}"},
                name=f"casebook-worker-{n}",
                daemon=True,
            )
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the threads to stop after their current job, and wait for them."""
        self._stop.set()
        self.signal.notify()
        for t in self._threads:
            t.join(timeout=timeout)
        self._threads.clear()

    @property
    def stopping(self) -> bool:
        """True once stop() was called."""
        return self._stop.is_set()
