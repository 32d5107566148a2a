"""`site create|edit|delete|deploy|reconcile|scale|drift|modules|update|install|rehearse|backup|backups|
drill|restore|list`: the site page's buttons, for automation.

    manage.py site create acme --cluster lab --image REG/odoo:19.0 --db-node lab-w1 --domain a.example.com
    manage.py site edit acme --replicas 3 --image REG/odoo:19.0 [--set FIELD=VALUE ...]   # the page's form
    manage.py site delete acme --yes           # admin; the panel forgets it, the cluster keeps its services
    manage.py site reconcile acme [--wait]
    manage.py site backup acme [--wait]; site backups acme --json; site drill acme [--backup ID] --wait --json
    manage.py site restore acme --backup ID --yes [--wait]   # (these four: backup_commands.py)
    manage.py site deploy acme --wait          # exit 0 when deployed, 1 when the job failed
    manage.py site scale acme 3 [--wait]
    manage.py site drift acme --json           # exit 0 when none, 1 when drift, 3 cluster unreachable
    manage.py site modules acme                # read ir_module_module (a job)
    manage.py site update acme --modules a,b --wait    # 0 success, 1 failure, 2 refused (also by the job)
    manage.py site --as ADMIN update acme --modules a --override-rehearsal "why"   # policy not met
    manage.py site install acme --modules c --wait     # the same sequence with -i
    manage.py site rehearse acme --modules a,b [--image REF] --wait --json   # -u on a neutralized copy

Each action that changes something runs as a job (the same as the buttons), so it is locked per
site, audited, and its log can be followed in the browser while the command waits. Create and edit
validate with the page's form and save through panel.crud, delete through it too: the same rules and
the same audit rows as the pages. An unknown site or an invalid value: exit 2, nothing changed.
"""

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from clusters.forms import DomainForm, SiteForm
from clusters.management.backup_commands import PERMISSIONS, BackupCommands, add_backup_parsers
from clusters.management.jobstart import start_job
from clusters.management.lookups import site_named
from clusters.management.modules_arg import image_arg, installed_names, update_request
from clusters.models import Cluster, Domain, Site
from clusters.sites import inspection
from clusters.stack import service_name
from clusters.stack.spec import SESSION_STORES, validate_modules
from panel.audit import record
from panel.audit.context import command_actor
from panel.cli import (
    PanelCommand,
    actor_may,
    delete_confirmed,
    form_data,
    form_errors,
    save_form,
)
from panel.crypto import reveal

REFUSED = 2
UNKNOWN = 3  # `site drift`: the cluster cannot be reached, so no verdict
SITE_FIELDS: list[str] = list(SiteForm.Meta.fields)  # what `site edit --set` may change
# The form's fields `site edit` has a flag of its own for (any other: --set FIELD=VALUE).
EDIT_FLAGS: dict[str, dict[str, Any]] = {
    "name": {},
    "series": {"help": "Odoo series, e.g. 19.0"},
    "session_store": {"choices": SESSION_STORES, "help": "how replicas share logins"},
    "image": {},
    "replicas": {"type": int},
    "workers": {"type": int},
    "db_node": {},
    "db_image": {},
    "redis_image": {},
    "addons_path": {},
    "language": {"help": "of a database the panel initialises, e.g. fr_BE"},
    "country": {"help": "the main company's country, e.g. BE"},
}


def _add_create(sub: Any) -> None:
    create = sub.add_parser("create")
    create.add_argument("slug")
    create.add_argument("--cluster", required=True)
    create.add_argument("--image", required=True)
    create.add_argument("--series", default="19.0", help="the image's Odoo series (default 19.0)")
    create.add_argument(
        "--session-store",
        choices=SESSION_STORES,
        help="how replicas share logins (default: the series' own: session_db on 19.0)",
    )
    create.add_argument("--db-node", required=True)
    create.add_argument("--db-name")
    create.add_argument("--replicas", type=int, default=2)
    create.add_argument("--domain", action="append", default=[])
    create.add_argument("--bind-path", help="lab: a host folder shared by every node")
    create.add_argument("--nfs", help="SERVER:/export for the filestore")
    create.add_argument("--db-image", help="default: the cluster's (the lab's own), else postgres:16")
    create.add_argument("--redis-image", help="default: the cluster's (the lab's own), else redis:7-alpine")
    create.add_argument("--language", default="en_US", help="of a database the panel initialises")
    create.add_argument("--country", default="", help="the main company's, e.g. BE (a new database)")
    create.add_argument("--with-demo", action="store_true", help="load demo data into a new database")
    create.add_argument("--addons-path", default="/mnt/extra-addons")
    create.add_argument("--traefik-network", default="traefik-public")


def _add_edit(sub: Any) -> None:
    edit = sub.add_parser(
        "edit", help="change a site's settings (the page's form); what is not given is kept"
    )
    edit.add_argument("slug")
    for field, options in EDIT_FLAGS.items():
        edit.add_argument("--" + field.replace("_", "-"), **options)
    edit.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=f"any field of the page's form: {', '.join(SITE_FIELDS)}",
    )
    edit.add_argument("--json", action="store_true", dest="as_json", help="print the saved settings")


class Command(BackupCommands, PanelCommand):
    help = "Create, deploy, scale, check and update sites."
    permissions = {
        "create": "operate",
        "edit": "operate",
        "delete": "admin",
        "deploy": "operate",
        "reconcile": "operate",
        "scale": "operate",
        "drift": "operate",
        "modules": "operate",
        "update": "operate",
        "install": "operate",
        "rehearse": "operate",
        **PERMISSIONS,  # backup, backups, drill, restore
        "list": "view",
        "admin-password": "admin",
    }

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        _add_create(sub)
        _add_edit(sub)
        delete = sub.add_parser("delete", help="the panel forgets the site and its domains (admin)")
        delete.add_argument("slug")
        delete.add_argument("--yes", action="store_true", help="confirm")
        for name in ("deploy", "modules", "reconcile"):
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
            if name == "update":  # a rehearsal runs `-u`: the policy does not cover `-i`
                update.add_argument(
                    "--override-rehearsal",
                    default="",
                    metavar="REASON",
                    help="admin (--as): update though the rehearsal policy is unmet; audited with REASON",
                )
        rehearse = sub.add_parser("rehearse", help="-u on a neutralized copy of the database (a job)")
        rehearse.add_argument("slug")
        rehearse.add_argument("--modules", required=True, help="comma-separated module names")
        rehearse.add_argument("--image", default="", help="repo[:tag] or repo@sha256:... (default: pinned)")
        rehearse.add_argument("--wait", action="store_true")
        rehearse.add_argument("--json", action="store_true", dest="as_json", help="print the job's result")
        secret = sub.add_parser(
            "admin-password",
            help="Odoo's admin password of a database the panel initialised (admin; audited)",
        )
        secret.add_argument("slug")
        add_backup_parsers(sub)
        sub.add_parser("list")

    def _start(self, kind: str, site: Site, wait: bool, **params: Any) -> None:
        start_job(self.stdout, kind, wait, what=site.slug, site=site, **params)

    def do_create(self, slug: str, cluster: str, image: str, db_node: str, **o: Any) -> None:
        target = Cluster.objects.filter(name=cluster).first()
        if target is None:
            raise CommandError(f"no cluster {cluster!r}", returncode=REFUSED)
        data = form_data(Site(), SiteForm)
        data.update(
            cluster=target.pk,
            slug=slug,
            image=image,
            db_node=db_node,
            db_name=o["db_name"] or slug.replace("-", "_"),
            replicas=o["replicas"],
            db_image=o["db_image"] or target.default_db_image or Site._meta.get_field("db_image").default,
            redis_image=o["redis_image"]
            or target.default_redis_image
            or Site._meta.get_field("redis_image").default,
            language=o["language"],
            country=o["country"],
            with_demo=o["with_demo"],
            addons_path=o["addons_path"],
            traefik_network=o["traefik_network"],
            series=o["series"],
            session_store=o["session_store"] or "",
        )
        if o["bind_path"]:
            data.update(filestore_kind=Site.Filestore.BIND, bind_path=o["bind_path"])
        elif o["nfs"]:
            server, _, export = o["nfs"].partition(":")
            data.update(nfs_server=server, nfs_export=export)
        form = SiteForm(data)
        domains = [DomainForm({"name": name}, instance=Domain()) for name in o["domain"]]
        bad = [f for f in (form, *domains) if not f.is_valid()]
        if bad:
            raise CommandError(f"site {slug}: {'; '.join(form_errors(f) for f in bad)}", returncode=REFUSED)
        with transaction.atomic():  # the site and its domains, or nothing
            site = save_form(form, f"site {slug}")
            for domain_form in domains:
                domain_form.instance.site = site
                save_form(domain_form, f"domain {domain_form.cleaned_data['name']}")
        self.stdout.write(f"created site {slug} on {cluster}")

    def do_edit(self, slug: str, as_json: bool, **o: Any) -> None:
        site = site_named(slug)
        data = form_data(site, SiteForm, blank=("registry_password",))  # blank keeps the stored one
        for field in EDIT_FLAGS:
            if o.get(field) is not None:
                data[field] = o[field]
        for pair in o["set"]:
            field, eq, value = pair.partition("=")
            if not eq or field not in SITE_FIELDS:
                raise CommandError(
                    f"--set {pair!r}: give FIELD=VALUE, FIELD one of {', '.join(SITE_FIELDS)}",
                    returncode=REFUSED,
                )
            data[field] = value
        saved = save_form(SiteForm(data, instance=site, may_relax_policy=actor_may("admin")), f"site {slug}")
        if as_json:
            shown = form_data(saved, SiteForm, blank=("registry_password",))
            shown.pop("registry_password")
            self.stdout.write(json.dumps({"site": slug, **shown}, default=str))
        else:
            self.stdout.write(f"saved site {slug}; a deploy applies what changed")

    def do_delete(self, slug: str, yes: bool, **_: Any) -> None:
        delete_confirmed(site_named(slug), yes, f"site delete {slug}")
        self.stdout.write(
            f"deleted site {slug}: its services, database and filestore on the cluster are left as they are"
        )

    def do_reconcile(self, slug: str, wait: bool, **_: Any) -> None:
        self._start("reconcile", site_named(slug), wait)

    def do_admin_password(self, slug: str, **_: Any) -> None:
        """Print the password on stdout alone (for a password manager); the audit row says who read it."""
        site = site_named(slug)
        if site.database_origin != Site.DatabaseOrigin.PANEL:
            raise CommandError(
                f"site {slug}: the panel did not initialise its database "
                f"({site.get_database_origin_display().lower()}): its admin password is not the panel's",
                returncode=REFUSED,
            )
        record("site.admin_password.read", actor=command_actor(), target=site, site=site)
        self.stdout.write(reveal(site.admin_password))

    def do_deploy(self, slug: str, wait: bool, **_: Any) -> None:
        self._start("deploy", site_named(slug), wait)

    def do_modules(self, slug: str, wait: bool, **_: Any) -> None:
        site = site_named(slug)
        self._start("read_modules", site, wait)
        if wait:
            site.refresh_from_db()
            for name, (state, version) in sorted(site.installed_modules.items()):
                self.stdout.write(f"{name:<40} {state:<12} {version}")

    def do_scale(self, slug: str, replicas: int, wait: bool, **_: Any) -> None:
        if not 1 <= replicas <= 20:
            raise CommandError("replicas must be between 1 and 20", returncode=REFUSED)
        self._start("scale", site_named(slug), wait, replicas=replicas)

    def do_update(
        self, slug: str, modules: str, no_backup: bool, wait: bool, override_rehearsal: str, **_: Any
    ) -> None:
        site = site_named(slug)
        names = installed_names(site, modules)
        params = update_request(site, names, backup=not no_backup, override=override_rehearsal)
        self._start("module_update", site, wait, **params)

    def do_install(self, slug: str, modules: str, no_backup: bool, wait: bool, **_: Any) -> None:
        site = site_named(slug)
        try:
            names = validate_modules(modules.split(","))
        except ValueError as exc:
            raise CommandError(str(exc), returncode=REFUSED) from exc
        self._start("module_install", site, wait, modules=list(names), backup=not no_backup)

    def do_rehearse(self, slug: str, modules: str, image: str, wait: bool, as_json: bool, **_: Any) -> None:
        """With --json, stdout holds the result alone (the log goes to stderr), whatever the exit code."""
        site = site_named(slug)
        params = {"modules": list(installed_names(site, modules)), "image": image_arg(image)}
        out, show = (self.stderr, self._print_result) if as_json else (self.stdout, None)
        start_job(out, "rehearsal", wait, what=slug, site=site, show=show, **params)

    def _print_result(self, job: Any) -> None:
        self.stdout.write(json.dumps(job.result or {"job": job.pk}))

    def do_drift(self, slug: str, as_json: bool, **_: Any) -> None:
        site = site_named(slug)
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
                {
                    "service": service_name(slug, "odoo"),
                    "kind": "not_deployed",
                    "message": f"{slug} is not deployed",
                }
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
