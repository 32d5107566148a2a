"""Jobs from the command line, mirroring the buttons:

manage.py job list [--site SLUG] [--state STATE] [--kind KIND] [--limit N]
manage.py job follow ID [--after SEQ]   # prints the log as it arrives; exit 0 if it succeeded, else 1
manage.py job cancel ID [--user NAME]
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from jobs.control import cancel
from jobs.logs import read as logread
from jobs.logs.html import clock
from jobs.logs.store import LogLine
from jobs.models import Job, State
from panel.cli import PanelCommand, acting_user, check, command_actor, resolve_user


class Command(PanelCommand):
    help = "List, follow and cancel jobs."
    permissions = {"list": "view", "follow": "view", "cancel": "operate"}

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="Recent jobs, newest first.")
        ls.add_argument("--site")
        ls.add_argument("--state", choices=State.values)
        ls.add_argument("--kind")
        ls.add_argument("--limit", type=int, default=50)
        follow = sub.add_parser("follow", help="Print a job's log live until it ends.")
        follow.add_argument("job_id", type=int)
        follow.add_argument("--after", type=int, default=0, help="Start after this line number.")
        stop = sub.add_parser("cancel", help="Cancel a job (it stops at its next step and undoes).")
        stop.add_argument("job_id", type=int)
        stop.add_argument("--user", help="Panel user to record as the one who cancelled.")

    def _job(self, job_id: int) -> Job:
        job = Job.objects.select_related("site", "cluster").filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"no job {job_id}")
        return job

    def do_list(self, site: str | None, state: str | None, kind: str | None, limit: int, **_: Any) -> None:
        jobs = Job.objects.all()
        if site:
            jobs = jobs.filter(site_slug=site)
        if state:
            jobs = jobs.filter(state=state)
        if kind:
            jobs = jobs.filter(kind=kind)
        self.stdout.write(f"{'ID':>6}  {'STATE':<10} {'KIND':<14} {'SITE':<20} {'BY':<12} CREATED")
        for job in jobs[: max(1, limit)]:
            self.stdout.write(
                f"{job.pk:>6}  {job.state:<10} {job.kind:<14} {job.site_slug or '-':<20} "
                f"{job.created_by_name or 'system':<12} {job.created_at:%Y-%m-%d %H:%M:%S}"
            )

    def do_follow(self, job_id: int, after: int, **_: Any) -> None:
        self._job(job_id)
        for line in logread.follow(job_id, after):
            self.stdout.write(_format(line))
            self.stdout.flush()
        job = self._job(job_id)
        if job.state != State.SUCCEEDED:
            raise CommandError(
                f"job {job_id} {job.state}{f': {job.error}' if job.error else ''}", returncode=1
            )

    def do_cancel(self, job_id: int, user: str | None, **_: Any) -> None:
        job = self._job(job_id)
        # `--user` names who cancels: checked like `--as`, never taken on trust.
        who = acting_user()
        if user:
            who = resolve_user(user)
            check(who, "operate", "job cancel")
        outcome = cancel(job, user=who, actor=who or command_actor())
        if outcome == "cancelled":
            self.stdout.write(f"job {job_id} cancelled before it started")
        elif outcome == "requested":
            self.stdout.write(f"job {job_id}: cancel requested; it stops at its next step (follow it to see)")
        else:
            self.stdout.write(f"job {job_id} is {job.state}; nothing to cancel")


def _format(line: LogLine) -> str:
    marker = "" if line.stream == "stdout" else f"[{line.stream}] "
    return f"{clock(line.time)} {marker}{line.text}"
