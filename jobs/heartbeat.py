"""The background thread of a running job: heartbeat, cancel flag, and the timed log flush.

One thread, not three, so a running job costs one extra database connection. The heartbeat is what
the reaper watches: if the worker process dies, the beats stop and the reaper ends the job. A beat
that updates no row means the reaper already ended this job (the worker was frozen longer than the
bound); the runner then stops instead of finishing a job that others consider failed.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import DatabaseError, connection
from django.utils import timezone

from jobs.logs.store import FLUSH_SECONDS, LogWriter
from jobs.models import Job, State

log = logging.getLogger(__name__)


class Background:
    def __init__(
        self, job_id: int, writer: LogWriter, *, beat_every: float, flush_every: float = FLUSH_SECONDS
    ):
        self.job_id = job_id
        self.writer = writer
        self.beat_every = beat_every
        self.flush_every = flush_every
        self.cancelled = threading.Event()
        self.lost = threading.Event()
        self._stop = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"job-{job_id}-beat", daemon=True)

    def __enter__(self) -> Background:
        self.writer.on_batch = self._wake.set
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=10)
        self.writer.on_batch = None

    def _loop(self) -> None:
        next_beat = time.monotonic() + self.beat_every
        try:
            while not self._stop:
                self._wake.wait(self.flush_every)  # a quarter second, or a full batch
                self._wake.clear()
                self.writer.flush()
                if time.monotonic() >= next_beat:
                    self.beat()
                    next_beat = time.monotonic() + self.beat_every
        finally:
            connection.close()  # this thread's own connection

    def beat(self) -> None:
        try:
            alive = Job.objects.filter(pk=self.job_id, state=State.RUNNING).update(
                heartbeat_at=timezone.now()
            )
            if not alive:
                self.lost.set()
            elif Job.objects.filter(pk=self.job_id, cancel_requested_at__isnull=False).exists():
                self.cancelled.set()
        except DatabaseError:
            log.warning("job %s: heartbeat failed", self.job_id, exc_info=True)
