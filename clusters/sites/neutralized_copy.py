"""A neutralized copy of a site's database, made and verified while the site serves: the ground a
rehearsal (issue 18) runs `-u` on. Copy (pg_dump | pg_restore), `odoo neutralize` with the site's own
image, then a verification that fails closed: a copy that still has a mail server or a cron that
would act on the world, or no neutralization flag, is not a neutralized copy. The tasks are rendered
in clusters/stack/db_copy.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import docker

from clusters import swarm_ops as ops
from clusters.stack.db_copy import (
    copy_name,
    render_check_task,
    render_copy_task,
    render_drop_task,
    render_neutralize_task,
)
from clusters.stack.spec import SiteSpec

Log = Callable[[str], object]

COPY_S = 1800.0  # a large production database takes its time to dump and restore
NEUTRALIZE_S = 600.0
QUERY_S = 120.0


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


def neutralized_copy(
    client: docker.DockerClient,
    spec: SiteSpec,
    suffix: str,
    run_id: str,
    log: Log,
) -> Neutralization:
    """`<db>_<suffix>` made anew from the site's database, neutralized, and read back."""
    target = copy_name(spec, suffix)
    _run(client, render_copy_task(spec, target, run_id), COPY_S, log)
    _run(client, render_neutralize_task(spec, target, run_id), NEUTRALIZE_S, log)
    return read_neutralization(client, spec, target, run_id, log)


def drop_copy(client: docker.DockerClient, spec: SiteSpec, target: str, run_id: str, log: Log) -> None:
    _run(client, render_drop_task(spec, target, run_id), QUERY_S, log)
