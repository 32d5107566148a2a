"""`cluster add|edit|remove|test|sync|list`: the cluster page's buttons, for automation.

python manage.py cluster add prod --endpoint tcp://manager:2376 \\
        --tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem
python manage.py cluster edit prod [--name NEW] [--endpoint URL] [--tls-ca ca.pem ...]  # the rest is kept
python manage.py cluster remove prod --yes   # the panel forgets it; nothing on the cluster is touched
python manage.py cluster test prod      # exit 0 when connected, 1 with the reason
python manage.py cluster sync prod      # nodes and status
python manage.py cluster list [--json]

Adding, editing and removing go through the page's form and panel.crud (same validation, same
audit rows); test and sync through clusters.actions, as the buttons do. An unknown cluster or an
invalid value: exit 2, nothing changed.
"""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from clusters import actions
from clusters.forms import ClusterForm
from clusters.models import Cluster
from panel.cli import REFUSED, PanelCommand, command_actor, delete_confirmed, form_data, save_form

PEMS = ("tls_ca", "tls_cert", "tls_key")


class Command(PanelCommand):
    help = "Add, edit, remove, test, sync and list clusters."
    permissions = {
        "add": "admin",
        "edit": "admin",
        "remove": "admin",
        "test": "operate",
        "sync": "operate",
        "list": "view",
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


def _pems(options: dict[str, Any]) -> dict[str, str]:
    pems = {}
    for field in PEMS:
        path = options.get(field)
        if path is not None:
            try:
                pems[field] = path.read_text()
            except OSError as exc:
                raise CommandError(f"cannot read {path}: {exc.strerror}", returncode=REFUSED) from exc
    return pems
