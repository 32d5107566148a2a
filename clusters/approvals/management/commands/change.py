"""`change submit|approve|reject|override|list|show`: the manifest change pages, for automation.

    manage.py change --as olga submit acme --archive addons.zip [--title T] [--select a,b] [--json]
    manage.py change --as dave submit acme --addons-path /srv/addons ...   # a host folder: admin, as the page
    manage.py change --as alice approve 12 [--json]
    manage.py change --as alice reject 12 [--reason "..."] [--json]
    manage.py change --as dave override 12 --reason "..." [--json]   # a blocked change: admin, in writing
    manage.py change list [--site acme] [--state pending] [--json]
    manage.py change show 12 --json

Four eyes compare people, so these act as a panel user: `--as USER` (or PANEL_CLI_USER) is required
to submit or decide. Submitting uses the page's forms and the same intake and service
(approvals.intake, approvals.services): the same verdict, state and audit row. `--json` prints
what the API answers (the `gate check --json` verdict plus "change"). Exit codes: submit 0 when the
change passes (pending), 1 when it was stored as blocked; decisions 0 when made; 2 for bad input, an
unknown site or change, a site whose modules were never read, or a decision the rules refuse (no
self-approval, a blocked change cannot be approved), with nothing changed.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.core.management.base import CommandError, CommandParser
from django.utils.datastructures import MultiValueDict

from clusters.approvals import services
from clusters.approvals.api import body
from clusters.approvals.forms import FolderForm, UploadForm
from clusters.approvals.gate.errors import GateError
from clusters.approvals.gate.workflow import WorkflowError
from clusters.approvals.intake import ModulesNotRead, evaluate_archive, evaluate_folder
from clusters.approvals.models import ChangeSource, ChangeState, ManifestChange
from clusters.approvals.views import filtered_changes
from clusters.models import Site
from panel.cli import REFUSED, PanelCommand, form_errors, panel_user


class Command(PanelCommand):
    help = "Submit, approve, reject, override and list manifest changes."
    permissions = {
        "submit": "operate",
        "approve": "approve",
        "reject": "approve",
        "override": "admin",
        "list": "view",
        "show": "view",
    }

    def required_action(self, options: dict[str, Any]) -> str:
        # A folder on the panel's host is an admin's, as on the page (change-submit-folder).
        if options.get("action") == "submit" and options.get("addons_path"):
            return "admin"
        return super().required_action(options)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        submit = sub.add_parser("submit", help="check a change against the site and store it")
        submit.add_argument("slug")
        source = submit.add_mutually_exclusive_group(required=True)
        source.add_argument("--archive", metavar="FILE", help="a .zip or .tar.gz of addons")
        source.add_argument("--addons-path", metavar="DIR", help="an absolute folder on this host (admin)")
        submit.add_argument("--title", default="")
        submit.add_argument("--select", default="", help="comma-separated addons this change is about")
        approve = sub.add_parser("approve", help="approve a passing change submitted by someone else")
        approve.add_argument("change_id", type=int)
        reject = sub.add_parser("reject")
        reject.add_argument("change_id", type=int)
        reject.add_argument("--reason", default="")
        override = sub.add_parser("override", help="let a blocked change through, with a written reason")
        override.add_argument("change_id", type=int)
        override.add_argument("--reason", required=True)
        ls = sub.add_parser("list", help="changes, newest first")
        ls.add_argument("--site", default="")
        ls.add_argument("--state", default="")
        ls.add_argument("--limit", type=int, default=50)
        show = sub.add_parser("show")
        show.add_argument("change_id", type=int)
        for p in (submit, approve, reject, override, ls, show):
            p.add_argument("--json", action="store_true", dest="as_json")

    def _print(self, change: Any, as_json: bool, text: str) -> None:
        if as_json:
            self.stdout.write(json.dumps(body(None, change.verdict, change)))
        else:
            self.stdout.write(text)

    def do_submit(
        self,
        slug: str,
        archive: str | None,
        addons_path: str | None,
        title: str,
        select: str,
        as_json: bool,
        **_: Any,
    ) -> None:
        user = panel_user("change submit")
        site = Site.objects.filter(slug=slug).first()
        if site is None:
            raise CommandError(f"no site {slug!r}; `site list` shows them", returncode=REFUSED)
        source, form, evaluation = _evaluate(site, archive, addons_path, {"title": title, "select": select})
        try:
            change = services.submit(
                site, evaluation, user=user, source=source, title=form.cleaned_data["title"]
            )
        except PermissionDenied as exc:
            raise CommandError(str(exc), returncode=REFUSED) from exc
        blocked = change.state == ChangeState.BLOCKED
        self._print(
            change,
            as_json,
            f"submitted change {change.pk} for {slug}: "
            + (
                f"BLOCKED, {change.blocked_count} addon(s) would break the site"
                if blocked
                else "passes, waits for an approver"
            ),
        )
        if blocked:
            raise SystemExit(1)

    def _decide(self, kind: str, change_id: int, as_json: bool, reason: str = "") -> None:
        user = panel_user(f"change {kind}")
        if not ManifestChange.objects.filter(pk=change_id).exists():
            raise CommandError(f"no change {change_id}; `change list` shows them", returncode=REFUSED)
        try:
            if kind == "approve":
                change = services.approve(change_id, user)
            elif kind == "reject":
                change = services.reject(change_id, user, reason)
            else:
                change = services.override(change_id, user, reason)
        except (WorkflowError, PermissionDenied) as exc:
            raise CommandError(f"change {change_id}: {exc}", returncode=REFUSED) from exc
        self._print(change, as_json, f"change {change_id} is now {change.state}")

    def do_approve(self, change_id: int, as_json: bool, **_: Any) -> None:
        self._decide("approve", change_id, as_json)

    def do_reject(self, change_id: int, reason: str, as_json: bool, **_: Any) -> None:
        self._decide("reject", change_id, as_json, reason)

    def do_override(self, change_id: int, reason: str, as_json: bool, **_: Any) -> None:
        self._decide("override", change_id, as_json, reason)

    def do_list(self, site: str, state: str, limit: int, as_json: bool, **_: Any) -> None:
        changes = list(
            filtered_changes({"site": site, "state": state})[0].order_by("-created_at")[: max(1, limit)]
        )
        rows = [
            {
                "id": c.pk,
                "site": c.site.slug,
                "state": c.state,
                "title": c.title,
                "submitted_by": c.submitted_by_name,
                "created_at": c.created_at.isoformat(),
            }
            for c in changes
        ]
        if as_json:
            self.stdout.write(json.dumps(rows))
            return
        for r in rows:
            self.stdout.write(
                f"{r['id']:>6}  {r['state']:<11} {r['site']:<20} {r['submitted_by']:<12} {r['title']}"
            )

    def do_show(self, change_id: int, as_json: bool, **_: Any) -> None:
        change = ManifestChange.objects.select_related("site").filter(pk=change_id).first()
        if change is None:
            raise CommandError(f"no change {change_id}; `change list` shows them", returncode=REFUSED)
        blocked = ", ".join(change.verdict.get("blocked", [])) or "-"
        self._print(
            change, as_json, f"change {change_id} of {change.site.slug}: {change.state}; blocked: {blocked}"
        )


def _evaluate(
    site: Site, archive: str | None, addons_path: str | None, fields: dict[str, str]
) -> tuple[Any, Any, Any]:
    """The gate's verdict on a folder or an archive, read through the page's own forms."""
    try:
        if addons_path is not None:
            form: UploadForm | FolderForm = FolderForm({**fields, "folder": addons_path})
            if not form.is_valid():
                raise CommandError(f"change submit: {form_errors(form)}", returncode=REFUSED)
            return (
                ChangeSource.FOLDER,
                form,
                evaluate_folder(site, form.cleaned_data["folder"], form.cleaned_data["select"]),
            )
        assert archive is not None  # one of the two is required
        with open(archive, "rb") as handle:
            upload = UploadedFile(
                handle, name=os.path.basename(archive), size=os.fstat(handle.fileno()).st_size
            )
            form = UploadForm(fields, MultiValueDict({"archive": [upload]}))
            if not form.is_valid():
                raise CommandError(f"change submit: {form_errors(form)}", returncode=REFUSED)
            return ChangeSource.UPLOAD, form, evaluate_archive(site, upload, form.cleaned_data["select"])
    except OSError as exc:
        raise CommandError(f"cannot read {exc.filename}: {exc.strerror}", returncode=REFUSED) from exc
    except (ModulesNotRead, GateError) as exc:
        raise CommandError(str(exc), returncode=REFUSED) from exc
