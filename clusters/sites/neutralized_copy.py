"""A neutralized copy of a site's database, made and verified while the site serves: the ground a
rehearsal (issue 18) runs `-u` on. Copy (pg_dump | pg_restore), `odoo neutralize` with the site's own
image, then a verification that fails closed: a copy that still has a mail server or a cron that
would act on the world, or no neutralization flag, is not a neutralized copy. The copy's filestore
(production's, copied into the site's rehearsal volume) is made and removed here too. The tasks are
rendered in clusters/stack/db_copy.py."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import docker

from clusters import swarm_ops as ops
from clusters.stack.db_copy import (
    copy_name,
    render_check_task,
    render_copy_task,
    render_drop_task,
    render_filestore_copy_task,
    render_filestore_drop_task,
    render_neutralize_task,
)
from clusters.stack.spec import SiteSpec

Log = Callable[[str], object]

COPY_S = 1800.0  # a large production database takes its time to dump and restore
NEUTRALIZE_S = 600.0
QUERY_S = 120.0
DATABASE_COPIED_RE = re.compile(r"^copied \S+ to \S+ \((\d+) bytes\)$")
FILESTORE_COPIED_RE = re.compile(r"^filestore copied: (\d+) files, (\d+) bytes")


@dataclass(frozen=True)
class Copied:
    """What one copy task moved and how long it ran, start of the task to its end (a rehearsal
    reports it; bench/rehearsal.py reads it)."""

    bytes: int
    seconds: float
    files: int | None = None  # the filestore's; None for the database

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 2)}


@dataclass(frozen=True)
class Neutralization:
    """What the copy holds after `odoo neutralize`, read back from it."""

    database: str
    mail_servers: int  # active, other than the dummy server neutralize adds on host `invalid`
    crons: int  # active, other than base's autovacuum
    flag: str  # ir.config_parameter database.is_neutralized

    def problems(self) -> list[str]:
        found = []
        if self.mail_servers:
            found.append(f"{self.mail_servers} mail servers still active")
        if self.crons:
            found.append(f"{self.crons} crons still active besides the autovacuum")
        if self.flag.lower() not in ("true", "1"):
            found.append("database.is_neutralized is not set")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems()


def _run(client: docker.DockerClient, task: object, deadline_s: float, log: Log) -> list[str]:
    code, lines = ops.run_one_off(client, task, deadline_s, log)  # type: ignore[arg-type]
    if code != 0:
        tail = "; ".join(ops.error_lines(lines) or lines[-2:])
        raise ops.SwarmError(f"{task.name} exited {code}: {tail}")  # type: ignore[attr-defined]
    return lines


def read_neutralization(
    client: docker.DockerClient, spec: SiteSpec, database: str, run_id: str, log: Log
) -> Neutralization:
    lines = _run(client, render_check_task(spec, database, run_id), QUERY_S, log)
    row = next((line for line in reversed(lines) if line.count("|") == 2), "")
    if not row:
        raise ops.SwarmError(f"{database}: the neutralization check printed no row")
    mail, crons, flag = row.strip().split("|")
    if not (mail.isdigit() and crons.isdigit()):
        raise ops.SwarmError(f"{database}: the neutralization check printed {row.strip()!r}")
    return Neutralization(database, int(mail), int(crons), flag)


def _timed(client: docker.DockerClient, task: object, deadline_s: float, log: Log) -> tuple[str, float]:
    """The task's last line (its summary) and its seconds."""
    started = time.monotonic()
    lines = _run(client, task, deadline_s, log)
    return next((line.strip() for line in reversed(lines) if line.strip()), ""), time.monotonic() - started


def copy_database(client: docker.DockerClient, spec: SiteSpec, target: str, run_id: str, log: Log) -> Copied:
    """`target` made anew from the site's database (pg_dump | pg_restore, while the site serves)."""
    last, seconds = _timed(client, render_copy_task(spec, target, run_id), COPY_S, log)
    found = DATABASE_COPIED_RE.match(last)
    if not found:
        raise ops.SwarmError(f"the database copy {target} printed {last!r}")
    return Copied(int(found.group(1)), seconds)


def neutralize(
    client: docker.DockerClient, spec: SiteSpec, target: str, run_id: str, log: Log
) -> Neutralization:
    """`odoo neutralize` on the copy `target` with the site's image, and what it left, read back."""
    _run(client, render_neutralize_task(spec, target, run_id), NEUTRALIZE_S, log)
    return read_neutralization(client, spec, target, run_id, log)


def copy_filestore(client: docker.DockerClient, spec: SiteSpec, target: str, run_id: str, log: Log) -> Copied:
    """Production's filestore copied as `target`'s (production's mounted read-only)."""
    last, seconds = _timed(client, render_filestore_copy_task(spec, target, run_id), COPY_S, log)
    found = FILESTORE_COPIED_RE.match(last)
    if not found:
        raise ops.SwarmError(f"the filestore copy of {target} printed {last!r}")
    return Copied(int(found.group(2)), seconds, files=int(found.group(1)))


def neutralized_copy(
    client: docker.DockerClient,
    spec: SiteSpec,
    suffix: str,
    run_id: str,
    log: Log,
) -> Neutralization:
    """`<db>_<suffix>` made anew from the site's database, neutralized, and read back."""
    target = copy_name(spec, suffix)
    copy_database(client, spec, target, run_id, log)
    return neutralize(client, spec, target, run_id, log)


def drop_copy(client: docker.DockerClient, spec: SiteSpec, target: str, run_id: str, log: Log) -> None:
    """The copy's filestore and database, both gone (each idempotent)."""
    _run(client, render_filestore_drop_task(spec, target, run_id), QUERY_S, log)
    _run(client, render_drop_task(spec, target, run_id), QUERY_S, log)
