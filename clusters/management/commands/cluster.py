"""`cluster add|edit|remove|test|sync|list`: the cluster page's buttons, for automation.

python manage.py cluster add prod --endpoint tcp://manager:2376 \\
        --tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem
python manage.py cluster edit prod [--name NEW] [--endpoint URL] [--tls-ca ca.pem ...]  # the rest is kept
python manage.py cluster remove prod --yes   # the panel forgets it; nothing on the cluster is touched
python manage.py cluster test prod      # exit 0 when connected, 1 with the reason
python manage.py cluster sync prod      # nodes and status
python manage.py cluster list [--json]
python manage.py cluster edge deploy prod [--image traefik:v3.7] [--acme-email ops@x] [--wait]
python manage.py cluster edge status prod [--json]   # Traefik's own routers, read live (exit 1: down)

Adding, editing and removing go through the page's form and panel.crud (same validation, same
audit rows); test and sync through clusters.actions, as the buttons do. An unknown cluster or an
invalid value: exit 2, nothing changed.
"""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from clusters import actions
from clusters.edge.deploy import record, record_down
from clusters.edge.status import EdgeUnreachable, read_status
from clusters.forms import ClusterForm, EdgeForm
from clusters.management.jobstart import start_job
from clusters.models import EDGE_SETTINGS, Cluster, Edge
from panel.cli import REFUSED, PanelCommand, command_actor, delete_confirmed, form_data, save_form

PEMS = ("tls_ca", "tls_cert", "tls_key")
EDGE_PEMS = ("default_cert", "default_key")  # given as files, like a cluster's TLS PEMs


class Command(PanelCommand):
    help = "Add, edit, remove, test, sync and list clusters."
    permissions = {
        "add": "admin",
        "edit": "admin",
        "remove": "admin",
        "test": "operate",
        "sync": "operate",
        "list": "view",
        "edge deploy": "admin",  # every site on the cluster is reached through it
        "edge status": "view",
    }

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add")
        add.add_argument("name")
        add.add_argument("--endpoint", required=True)
        edit = sub.add_parser("edit", help="change a cluster; what is not given is kept")
        edit.add_argument("name")
        edit.add_argument("--name", dest="new_name", help="rename it")
        edit.add_argument("--endpoint")
        for p in (add, edit):
            for flag in ("--tls-ca", "--tls-cert", "--tls-key"):
                p.add_argument(flag, type=Path, help="PEM file")
        remove = sub.add_parser("remove", help="the panel forgets the cluster (refused while sites use it)")
        remove.add_argument("name")
        remove.add_argument("--yes", action="store_true", help="confirm")
        for name in ("test", "sync"):
            sub.add_parser(name).add_argument("name")
        sub.add_parser("list").add_argument("--json", action="store_true", dest="as_json")
        edge = sub.add_parser("edge", help="the cluster's Traefik: deploy it, read its routers")
        edge_sub = edge.add_subparsers(dest="edge_action", required=True)
        deploy = edge_sub.add_parser("deploy", help="create or update it; the given settings are saved first")
        deploy.add_argument("name")
        for flag in EDGE_SETTINGS:
            pem = flag in EDGE_PEMS
            deploy.add_argument(f"--{flag.replace('_', '-')}", dest=flag, type=Path if pem else str)
        deploy.add_argument("--wait", action="store_true")
        status = edge_sub.add_parser("status", help="what Traefik's API says, live")
        status.add_argument("name")
        status.add_argument("--json", action="store_true", dest="as_json")

    def _get(self, name: str) -> Cluster:
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            raise CommandError(f"no cluster named {name!r}; `cluster list` shows them", returncode=REFUSED)
        return cluster

    def do_add(self, name: str, endpoint: str, **o: Any) -> None:
        data = {"name": name, "endpoint": endpoint, **_pems(o)}
        save_form(ClusterForm(data), f"cluster {name}")
        self.stdout.write(f"added cluster {name}")

    def do_edit(self, name: str, new_name: str | None, endpoint: str | None, **o: Any) -> None:
        cluster = self._get(name)
        data = form_data(cluster, ClusterForm, blank=PEMS)  # a PEM left blank keeps the stored one
        if new_name is not None:
            data["name"] = new_name
        if endpoint is not None:
            data["endpoint"] = endpoint
        data.update(_pems(o))
        save_form(ClusterForm(data, instance=cluster), f"cluster {name}")
        self.stdout.write(f"saved cluster {data['name']}")

    def do_remove(self, name: str, yes: bool, **_: Any) -> None:
        delete_confirmed(self._get(name), yes, f"cluster remove {name}")
        self.stdout.write(f"removed cluster {name} (nothing on the cluster itself was touched)")

    def do_test(self, name: str, **_: Any) -> None:
        ok, message = actions.connection_check(self._get(name), actor=command_actor())
        if not ok:
            raise CommandError(message)
        self.stdout.write(message)

    def do_sync(self, name: str, **_: Any) -> None:
        result = actions.synchronise(self._get(name), actor=command_actor())
        if not result.ok:
            raise CommandError(result.message)
        self.stdout.write(result.message)

    def do_list(self, as_json: bool = False, **_: Any) -> None:
        clusters = list(Cluster.objects.all())
        if as_json:
            rows = [
                {"id": c.pk, "name": c.name, "status": c.status, "endpoint": c.endpoint, "is_lab": c.is_lab}
                for c in clusters
            ]
            self.stdout.write(json.dumps(rows))
            return
        for c in clusters:
            self.stdout.write(f"{c.name:<20} {c.status:<12} {c.endpoint}")

    def do_edge(self, edge_action: str, name: str, **o: Any) -> None:
        cluster = self._get(name)
        if edge_action == "deploy":
            settings = {k: o[k] for k in EDGE_SETTINGS if o.get(k) is not None and k not in EDGE_PEMS}
            edge = save_edge(cluster, {**settings, **_pems(o, EDGE_PEMS)})
            start_job(self.stdout, "edge_deploy", o["wait"], what=f"the edge of {name}", cluster=edge.cluster)
            return
        found_edge = Edge.of(cluster)
        if found_edge is None:
            raise CommandError(f"cluster {name} has no edge yet: `cluster edge deploy {name}`")
        edge = found_edge
        try:
            found = read_status(edge.api_url)
        except EdgeUnreachable as exc:
            record_down(edge, str(exc))
            raise CommandError(str(exc)) from exc
        record(edge, found)
        if o["as_json"]:
            cert = edge.default_certificate
            self.stdout.write(json.dumps({**found.as_json(), "default_certificate": cert and cert.as_json()}))
            return
        self.stdout.write(f"Traefik {found.version} at {edge.api_url}")
        for r in found.routers:
            self.stdout.write(f"{r.name:<28} {len(r.servers)} servers  {r.rule}")


def save_edge(cluster: Cluster, settings: dict[str, Any]) -> Edge:
    """The cluster's edge with `settings` saved through the page's form (validated, audited); a
    cluster without one gets the defaults."""
    edge = Edge.of(cluster) or Edge(cluster=cluster)
    if edge.pk and not settings:
        return edge
    data = {
        **form_data(edge, EdgeForm, blank=("default_key",)),
        **settings,
    }  # a blank key keeps the stored one
    form = EdgeForm(data, instance=edge)
    return save_form(form, f"the edge of {cluster.name}")  # type: ignore[no-any-return]


def _pems(options: dict[str, Any], fields: tuple[str, ...] = PEMS) -> dict[str, str]:
    """The PEM files named by the options, read (a file that cannot be read is refused)."""
    pems = {}
    for field in fields:
        path = options.get(field)
        if path is not None:
            try:
                pems[field] = path.read_text()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}", returncode=REFUSED) from exc
    return pems
