"""`site create|deploy|scale|drift|modules|update|list`: the site page's buttons, for automation.

    manage.py site create acme --cluster lab --image REG/odoo:17.0 --db-node lab-w1 --domain a.example.com
    manage.py site deploy acme --wait          # exit 0 when deployed, 1 when the job failed
    manage.py site scale acme 3 [--wait]
    manage.py site drift acme --json           # exit 0 when none, 1 when drift, 3 cluster unreachable
    manage.py site modules acme                # read ir_module_module (a job)
    manage.py site update acme --modules a,b --wait    # 0 success, 1 failure, 2 refused (also by the job)
    manage.py site install acme --modules c --wait     # the same sequence with -i

Each action that changes something runs as a job (the same as the buttons), so it is locked per
site, audited, and its log can be followed in the browser while the command waits.
"""

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from clusters import inspection
from clusters.models import Cluster, Domain, Site
from clusters.stack.spec import validate_modules
from jobs import control, logread
from jobs.locks import JobAlreadyRunning
from jobs.models import Job, State
from panel.cli import PanelCommand, acting_user

REFUSED = 2
UNKNOWN = 3  # `site drift`: the cluster cannot be reached, so no verdict


class Command(PanelCommand):
    help = "Create, deploy, scale, check and update sites."
    permissions = {
        "create": "operate",
        "deploy": "operate",
        "scale": "operate",
        "drift": "operate",
        "modules": "operate",
        "update": "operate",
        "install": "operate",
        "list": "view",
    }

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("slug")
        create.add_argument("--cluster", required=True)
        create.add_argument("--image", required=True)
        create.add_argument("--db-node", required=True)
        create.add_argument("--db-name")
        create.add_argument("--replicas", type=int, default=2)
        create.add_argument("--domain", action="append", default=[])
        create.add_argument("--bind-path", help="lab: a host folder shared by every node")
        create.add_argument("--nfs", help="SERVER:/export for the filestore")
        create.add_argument("--db-image", default="postgres:16")
        create.add_argument("--redis-image", default="redis:7-alpine")
        create.add_argument("--addons-path", default="/mnt/extra-addons")
        create.add_argument("--traefik-network", default="traefik-public")
        for name in ("deploy", "modules"):
            p = sub.add_parser(name)
            p.add_argument("slug")
            p.add_argument("--wait", action="store_true")
        scale = sub.add_parser("scale")
        scale.add_argument("slug")
        scale.add_argument("replicas", type=int)
        scale.add_argument("--wait", action="store_true")
        drift = sub.add_parser("drift")
        drift.add_argument("slug")
        drift.add_argument("--json", action="store_true", dest="as_json")
        for name in ("update", "install"):
            update = sub.add_parser(name)
            update.add_argument("slug")
            update.add_argument("--modules", required=True, help="comma-separated module names")
            update.add_argument("--no-backup", action="store_true")
            update.add_argument("--wait", action="store_true")
        sub.add_parser("list")

    def handle(self, *args: Any, action: str, **opts: Any) -> None:
        getattr(self, f"do_{action}")(**opts)

    def _site(self, slug: str) -> Site:
        site = Site.objects.select_related("cluster").filter(slug=slug).first()
        if site is None:
            raise CommandError(f"no site {slug!r}; `site list` shows them", returncode=REFUSED)
        return site

    def _start(self, kind: str, site: Site, wait: bool, **params: Any) -> None:
        try:
            job = control.start(kind, site=site, params=params, user=acting_user())
        except JobAlreadyRunning as exc:
            raise CommandError(str(exc), returncode=REFUSED) from exc
        self.stdout.write(f"job {job.pk} ({kind}) started for {site.slug}")
        if not wait:
            return
        for line in logread.follow(job.pk):
            self.stdout.write(f"{line.time:%H:%M:%S} {line.text}")
            self.stdout.flush()
        job = Job.objects.get(pk=job.pk)
        if job.state != State.SUCCEEDED:
            refused = isinstance(job.result, dict) and job.result.get("refused")
            raise CommandError(f"job {job.pk} {job.state}: {job.error}", returncode=REFUSED if refused else 1)
        self.stdout.write(f"job {job.pk} succeeded")

    def do_create(self, slug: str, cluster: str, image: str, db_node: str, **o: Any) -> None:
        target = Cluster.objects.filter(name=cluster).first()
        if target is None:
            raise CommandError(f"no cluster {cluster!r}", returncode=REFUSED)
        site = Site(
            cluster=target,
            slug=slug,
            image=image,
            db_node=db_node,
            db_name=o["db_name"] or slug.replace("-", "_"),
            replicas=o["replicas"],
            db_image=o["db_image"],
            redis_image=o["redis_image"],
            addons_path=o["addons_path"],
            traefik_network=o["traefik_network"],
        )
        if o["bind_path"]:
            site.filestore_kind, site.bind_path = Site.Filestore.BIND, o["bind_path"]
        elif o["nfs"]:
            site.nfs_server, _, site.nfs_export = o["nfs"].partition(":")
        domains = [Domain(site=site, name=name) for name in o["domain"]]
        try:
            site.full_clean()
            for d in domains:
                d.full_clean(exclude=["site"])
        except ValidationError as exc:
            raise CommandError(_errors(exc), returncode=REFUSED) from exc
        site.save()
        for d in domains:
            d.site = site
            d.save()
        self.stdout.write(f"created site {slug} on {cluster}")

    def do_deploy(self, slug: str, wait: bool, **_: Any) -> None:
        self._start("deploy", self._site(slug), wait)

    def do_modules(self, slug: str, wait: bool, **_: Any) -> None:
        site = self._site(slug)
        self._start("read_modules", site, wait)
        if wait:
            site.refresh_from_db()
            for name, (state, version) in sorted(site.installed_modules.items()):
                self.stdout.write(f"{name:<40} {state:<12} {version}")

    def do_scale(self, slug: str, replicas: int, wait: bool, **_: Any) -> None:
        if not 1 <= replicas <= 20:
            raise CommandError("replicas must be between 1 and 20", returncode=REFUSED)
        self._start("scale", self._site(slug), wait, replicas=replicas)

    def do_update(self, slug: str, modules: str, no_backup: bool, wait: bool, **_: Any) -> None:
        site = self._site(slug)
        try:
            names = validate_modules(modules.split(","))
        except ValueError as exc:
            raise CommandError(str(exc), returncode=REFUSED) from exc
        if site.installed_modules:
            missing = [m for m in names if site.installed_modules.get(m, [""])[0] != "installed"]
            if missing:
                raise CommandError(
                    f"not installed in {site.db_name} (as read at {site.modules_read_at:%Y-%m-%d %H:%M}): "
                    f"{', '.join(missing)}; `-u` would silently ignore them, install them instead",
                    returncode=REFUSED,
                )
        self._start("module_update", site, wait, modules=list(names), backup=not no_backup)

    def do_install(self, slug: str, modules: str, no_backup: bool, wait: bool, **_: Any) -> None:
        site = self._site(slug)
        try:
            names = validate_modules(modules.split(","))
        except ValueError as exc:
            raise CommandError(str(exc), returncode=REFUSED) from exc
        self._start("module_install", site, wait, modules=list(names), backup=not no_backup)

    def do_drift(self, slug: str, as_json: bool, **_: Any) -> None:
        site = self._site(slug)
        state = inspection.check_drift(site)
        if state is None:
            site.refresh_from_db()
            raise CommandError(
                f"cannot reach cluster {site.cluster.name}: {site.cluster.status_message}",
                returncode=UNKNOWN,
            )
        drifts = [d.as_dict() for d in state.drift]
        if not state.deployed:
            drifts = [
                {"service": f"{slug}_odoo", "kind": "not_deployed", "message": f"{slug} is not deployed"}
            ]
        if as_json:
            self.stdout.write(
                json.dumps({"site": slug, "drift": drifts, "pending": state.pending}, default=str)
            )
        else:
            for d in drifts:
                self.stdout.write(d["message"])
            self.stdout.write(f"{len(drifts)} difference(s)" if drifts else "no drift")
        if drifts:
            raise SystemExit(1)

    def do_list(self, **_: Any) -> None:
        for s in Site.objects.select_related("cluster"):
            self.stdout.write(
                f"{s.slug:<24} {s.status:<10} {s.running_replicas}/{s.replicas:<3} {s.cluster.name}"
            )


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)
