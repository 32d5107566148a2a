"""`domain add|edit|remove|list`: the site page's domain buttons, for automation.

    manage.py domain add acme shop.example.com [--json]        # {"domain", "site", "job", "note"}
    manage.py domain edit shop.example.com shop2.example.com [--json]
    manage.py domain remove acme shop.example.com --yes [--json]
    manage.py domain list [--site acme] [--json]

The same form, audit rows and job as the pages: the domain is validated by the page's form and saved
or deleted through panel.crud, then a deployed site gets its router rule rewritten by a `domain` job
(clusters.sites.actions.start_domain_job). An unknown site or domain, a name that is not a valid
host name or belongs to another site: exit 2, nothing changed.
"""

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from clusters.forms import DomainForm
from clusters.management.lookups import site_named
from clusters.models import Domain, Site
from clusters.sites.actions import start_domain_job
from clusters.validators import normalize_fqdn
from panel.cli import REFUSED, PanelCommand, acting_user, delete_confirmed, save_form


class Command(PanelCommand):
    help = "Add, rename, remove and list the domains of sites."
    permissions = {"add": "operate", "edit": "operate", "remove": "operate", "list": "view"}

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a domain to a site (a job rewrites a deployed site's router)")
        add.add_argument("slug")
        add.add_argument("host")
        edit = sub.add_parser("edit", help="rename a domain")
        edit.add_argument("host")
        edit.add_argument("new_host")
        remove = sub.add_parser("remove", help="remove a domain: traffic for it stops reaching the site")
        remove.add_argument("slug")
        remove.add_argument("host")
        remove.add_argument("--yes", action="store_true", help="confirm")
        ls = sub.add_parser("list")
        ls.add_argument("--site", metavar="SLUG")
        for p in (add, edit, remove, ls):
            p.add_argument("--json", action="store_true", dest="as_json")

    def _domain(self, host: str, site: Site | None = None) -> Domain:
        domain = Domain.objects.select_related("site").filter(name=normalize_fqdn(host)).first()
        if domain is None or (site is not None and domain.site_id != site.pk):
            where = f" of site {site.slug}" if site is not None else ""
            raise CommandError(f"no domain {host!r}{where}; `domain list` shows them", returncode=REFUSED)
        return domain

    def _applied(self, domain: str, site: Site, as_json: bool) -> None:
        job, note = start_domain_job(site, user=acting_user())
        if as_json:
            self.stdout.write(
                json.dumps({"domain": domain, "site": site.slug, "job": job and job.pk, "note": note})
            )
        else:
            self.stdout.write(note)

    def do_add(self, slug: str, host: str, as_json: bool, **_: Any) -> None:
        site = site_named(slug)
        domain = save_form(DomainForm({"name": host}, instance=Domain(site=site)), f"domain {host}")
        if not as_json:
            self.stdout.write(f"added {domain} to {slug}")
        self._applied(domain.name, site, as_json)

    def do_edit(self, host: str, new_host: str, as_json: bool, **_: Any) -> None:
        domain = self._domain(host)
        saved = save_form(DomainForm({"name": new_host}, instance=domain), f"domain {host}")
        if not as_json:
            self.stdout.write(f"renamed {host} to {saved}")
        self._applied(saved.name, domain.site, as_json)

    def do_remove(self, slug: str, host: str, yes: bool, as_json: bool, **_: Any) -> None:
        site = site_named(slug)
        domain = self._domain(host, site)
        delete_confirmed(domain, yes, f"domain remove {slug} {domain}")
        if not as_json:
            self.stdout.write(f"removed {domain} from {slug}")
        self._applied(domain.name, site, as_json)

    def do_list(self, site: str | None, as_json: bool, **_: Any) -> None:
        domains = Domain.objects.select_related("site")
        if site:
            domains = domains.filter(site=site_named(site))
        rows = [{"domain": d.name, "site": d.site.slug, "id": d.pk} for d in domains]
        if as_json:
            self.stdout.write(json.dumps(rows))
            return
        for r in rows:
            self.stdout.write(f"{r['domain']:<50} {r['site']}")
