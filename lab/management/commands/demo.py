"""`demo`: a demo site on the lab cluster, deployed and with its demo modules installed, so a new
user sees a live site on first start. Idempotent: an existing healthy demo is left alone.
Needs the lab (`lab up`) and a running worker (the deploy is a job like any other)."""

from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser

from clusters.models import Cluster, Domain, Site
from lab.api import LabInfo, info
from lab.edge import ADDRESS, NETWORK, ensure_lab_edge
from lab.edge_tls import CA_CERT
from lab.errors import LabError
from lab.sites import lab_site_fields
from panel.cli import WHOLE, PanelCommand

SLUG = "demo"
DEMO_MODULES = "shop_sale,shop_stock"
# The lab's Odoo 19.0 stand-in: the series a new site gets by default, with its session store
# (session_db) carried in the image as an addon folder.
DEMO_IMAGE = "odoo19"
# The overlay the lab's edge (a real Traefik, lab/edge.py) shares with the sites.
TRAEFIK_NETWORK = NETWORK


class Command(PanelCommand):
    help = "Create, deploy and initialise the demo site on the lab cluster."
    permissions = {WHOLE: "admin"}

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", default=SLUG, help="the demo site's slug (tests use their own)")

    def handle(self, *args: Any, slug: str = SLUG, **options: Any) -> None:
        domains = (f"{slug}.lab.test", f"www.{slug}.lab.test")
        cluster = Cluster.objects.filter(name="lab", is_lab=True).first()
        if cluster is None:
            raise CommandError("no lab cluster: run `python manage.py lab up` first")
        try:
            lab = info()
        except LabError as exc:
            raise CommandError(f"the lab is not up: {exc}") from exc
        ensure_lab_edge(cluster, lab)
        site = self._site(cluster, lab, slug, domains)
        if site.status == Site.Status.HEALTHY and site.image == lab.image(DEMO_IMAGE).ref:
            self.stdout.write("the demo site is deployed and healthy")
            return
        call_command("site", "deploy", slug, "--wait", stdout=self.stdout)
        call_command("site", "modules", slug, "--wait", stdout=self.stdout)
        site.refresh_from_db()
        missing = [
            m for m in DEMO_MODULES.split(",") if site.installed_modules.get(m, [""])[0] != "installed"
        ]
        if missing:
            call_command(
                "site", "install", slug, "--modules", ",".join(missing), "--wait", stdout=self.stdout
            )
        self.stdout.write(
            f"demo site ready: https://{domains[0]}/ through the lab's edge at {ADDRESS} "
            f"(curl --cacert {CA_CERT} --resolve {domains[0]}:443:{ADDRESS} https://{domains[0]}/web/login)"
        )

    def _site(self, cluster: Cluster, lab: LabInfo, slug: str, domains: tuple[str, ...]) -> Site:
        """The demo site, created if missing, on the Traefik network and the lab's current images.

        The returned object keeps the image it was read with: a changed image is written to the
        database only, so the caller still sees that the site must be deployed again.
        """
        site = Site.objects.filter(slug=slug).first()
        if site is None:
            fields = lab_site_fields(lab, slug, odoo=DEMO_IMAGE)
            site = Site.objects.create(cluster=cluster, **{**fields, "name": "Demo shop", "db_name": "demo"})
            for name in domains:
                Domain.objects.create(site=site, name=name)
            self.stdout.write(f"created site {slug} on the lab")
        if site.traefik_network != TRAEFIK_NETWORK:
            Site.objects.filter(pk=site.pk).update(traefik_network=TRAEFIK_NETWORK, status=Site.Status.NEW)
            site.refresh_from_db()
        if site.image != lab.image(DEMO_IMAGE).ref:
            Site.objects.filter(pk=site.pk).update(
                image=lab.image(DEMO_IMAGE).ref,
                series=lab.image(DEMO_IMAGE).series,
                session_store="",
                db_image=lab.image("postgres").ref,
                redis_image=lab.image("redis").ref,
            )
        return site
