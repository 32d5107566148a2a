"""`cluster add|test|sync|list`: the cluster page's buttons, for automation.

python manage.py cluster add prod --endpoint tcp://manager:2376 \\
        --tls-ca ca.pem --tls-cert cert.pem --tls-key key.pem
python manage.py cluster test prod      # exit 0 when connected, 1 with the reason
python manage.py cluster sync prod      # nodes and status
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from clusters import engine
from clusters.models import Cluster
from clusters.sync import mark_failure, sync_cluster
from panel import audit
from panel.cli import PanelCommand, command_actor


class Command(PanelCommand):
    help = "Add, test, sync and list clusters."
    permissions = {"add": "admin", "test": "operate", "sync": "operate", "list": "view"}

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add")
        add.add_argument("name")
        add.add_argument("--endpoint", required=True)
        for flag in ("--tls-ca", "--tls-cert", "--tls-key"):
            add.add_argument(flag, type=Path, help="PEM file")
        for name in ("test", "sync"):
            sub.add_parser(name).add_argument("name")
        sub.add_parser("list")

    def handle(self, *args: Any, action: str, **opts: Any) -> None:
        getattr(self, f"do_{action}")(**opts)

    def _get(self, name: str) -> Cluster:
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            raise CommandError(f"no cluster named {name!r}; `cluster list` shows them")
        return cluster

    def do_add(
        self,
        name: str,
        endpoint: str,
        tls_ca: Path | None,
        tls_cert: Path | None,
        tls_key: Path | None,
        **_: Any,
    ) -> None:
        pems = {}
        for field, path in (("tls_ca", tls_ca), ("tls_cert", tls_cert), ("tls_key", tls_key)):
            if path is not None:
                try:
                    pems[field] = path.read_text()
                except OSError as exc:
                    raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        cluster = Cluster(name=name, endpoint=endpoint, **pems)
        try:
            cluster.full_clean()
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        cluster.save()
        after = {"name": name, "endpoint": endpoint}
        audit.record("cluster.create", actor=command_actor(), target=cluster, after=after)
        self.stdout.write(f"added cluster {name}")

    def do_test(self, name: str, **_: Any) -> None:
        cluster = self._get(name)
        try:
            info = engine.check_connection(cluster)
        except engine.EngineError as exc:
            mark_failure(cluster, exc)
            raise CommandError(f"{exc.kind}: {exc.message}") from exc
        self.stdout.write(f"connected: engine {info.version}, API {info.api_version}, Swarm manager")

    def do_sync(self, name: str, **_: Any) -> None:
        result = sync_cluster(self._get(name))
        if not result.ok:
            raise CommandError(result.message)
        self.stdout.write(result.message)

    def do_list(self, **_: Any) -> None:
        for c in Cluster.objects.all():
            self.stdout.write(f"{c.name:<20} {c.status:<12} {c.endpoint}")
