"""`lab up|down|status`: the local multi-node Swarm lab (lab/), registered as cluster "lab".

python manage.py lab up [--workers 2] [--no-images]   # converge; a second run only checks (seconds)
python manage.py lab status                          # engines, nodes, services
python manage.py lab down [--purge]                  # remove what the lab made; --purge also its caches

Needs root (it makes network namespaces and engines) and the engine packages (lab/install-engine.sh).
"""

import os
import time
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError

from lab import LabError, LabInfo, StatusRow, config, down, status, up
from lab.api import BACKUP_ROOT
from lab.daemon import INSTALL_HINT, missing_tools
from panel.cli import PanelCommand

CLUSTER_NAME = "lab"


class Command(PanelCommand):
    help = "Bring the local multi-node Swarm lab up or down, or show its status."
    permissions = {"up": "admin", "down": "admin", "status": "view"}

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        up_cmd = sub.add_parser("up", help="start or repair the lab, register it as cluster 'lab'")
        up_cmd.add_argument("--workers", type=int, default=2, help="worker engines (default 2)")
        up_cmd.add_argument("--no-images", action="store_true", help="skip building and pulling images")
        down_cmd = sub.add_parser("down", help="remove the lab's engines, namespaces, bridge, registry")
        down_cmd.add_argument("--purge", action="store_true", help="also delete registry and image stores")
        sub.add_parser("status", help="engines, nodes and services")

    def handle(self, *args: Any, action: str, **opts: Any) -> None:
        if os.geteuid() != 0:
            raise CommandError("the lab makes network namespaces and engines: run it as root")
        if action != "status" and missing_tools():
            raise CommandError(f"missing {', '.join(missing_tools())}: {INSTALL_HINT}")
        try:
            getattr(self, f"do_{action}")(**opts)
        except LabError as exc:
            raise CommandError(str(exc)) from exc

    def progress(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    # ---- up ----------------------------------------------------------------------------------------

    def do_up(self, workers: int, no_images: bool, **_: Any) -> None:
        started = time.monotonic()
        info = up(workers, build_images=not no_images, log=self.progress)
        for node in info.nodes:
            self.stdout.write(f"  node {node.hostname:<12} {node.role:<8} {node.addr:<12} {node.socket}")
        self.stdout.write(f"  registry {info.registry}")
        for ref in info.images.values():
            self.stdout.write(f"  image {ref.name:<9} {ref.pinned}")
        self.register(info)
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"lab up: {len(info.nodes)} nodes in {elapsed:.1f}s"))

    def register(self, info: LabInfo) -> None:
        """Create or update the Cluster row "lab" and sync its nodes, when the panel's models allow it."""
        try:
            from clusters.models import Cluster
        except ImportError as exc:
            self.stderr.write(f"lab is up, but not registered: clusters.models.Cluster is missing ({exc})")
            return
        defaults: dict[str, Any] = {
            "endpoint": info.manager_socket,
            # The lab cannot pull Docker Hub: its sites get the lab's own database and Redis images.
            "default_db_image": info.image("postgres").ref,
            "default_redis_image": info.image("redis").ref,
        }
        if any(f.name == "is_lab" for f in Cluster._meta.get_fields()):
            defaults["is_lab"] = True
        if any(f.name == "backup_root" for f in Cluster._meta.get_fields()):
            defaults["backup_root"] = str(BACKUP_ROOT)  # backups that survive the database's node
        try:
            cluster, created = Cluster.objects.update_or_create(name=CLUSTER_NAME, defaults=defaults)
        except DatabaseError as exc:
            self.stderr.write(f"lab is up, not registered ({exc}): run `manage.py migrate`, then `lab up`")
            return
        self._audit("cluster.create" if created else "lab.up", cluster, {"endpoint": info.manager_socket})
        message = self._sync(cluster)
        self.stdout.write(f"cluster '{CLUSTER_NAME}' {'registered' if created else 'updated'}{message}")
        self._edge(cluster, info)

    def _edge(self, cluster: Any, info: LabInfo) -> None:
        """The lab's Traefik, deployed by the panel's own code; its failure fails `lab up`."""
        from clusters.edge.status import EdgeUnreachable
        from clusters.swarm_ops import SwarmError
        from lab.edge import ensure_lab_edge

        try:
            found = ensure_lab_edge(cluster, info, log=lambda line: self.progress(f"edge: {line}"))
        except (EdgeUnreachable, SwarmError) as exc:
            raise CommandError(f"the lab's edge did not come up: {exc}") from exc
        except DatabaseError as exc:
            self.stderr.write(
                f"lab is up, its edge not deployed ({exc}): run `manage.py migrate`, then `lab up`"
            )
            return
        self.stdout.write(f"edge: Traefik {found.version} on {info.registry.split(':')[0]} ports 80 and 443")

    def _sync(self, cluster: Any) -> str:
        try:
            from clusters.sync import sync_cluster
        except ImportError:
            return ""
        result = sync_cluster(cluster)
        return f" and synced: {result.message}" if result.ok else f" (sync failed: {result.message})"

    def _audit(self, action: str, cluster: Any, after: dict[str, Any] | None = None) -> None:
        try:
            from panel.audit import record
            from panel.cli import command_actor
        except ImportError:
            return
        record(action, actor=command_actor(), target=cluster, after=after)

    # ---- down --------------------------------------------------------------------------------------

    def do_down(self, purge: bool, **_: Any) -> None:
        started = time.monotonic()
        down(purge=purge, log=self.progress)
        self.unregister()
        self.stdout.write(self.style.SUCCESS(f"lab down in {time.monotonic() - started:.1f}s"))

    def unregister(self) -> None:
        try:
            from django.db.models import ProtectedError

            from clusters.models import Cluster
        except ImportError:
            return
        try:
            cluster = Cluster.objects.filter(name=CLUSTER_NAME).first()
            if cluster is None:
                return
            self._audit("cluster.delete", cluster)
            try:
                cluster.delete()
                self.stdout.write(f"cluster '{CLUSTER_NAME}' removed")
            except ProtectedError:
                # Sites still point at it: keep the row (and their history), show it as gone.
                Cluster.objects.filter(pk=cluster.pk).update(
                    status="unreachable", status_message="lab is down"
                )
                self.stdout.write(f"cluster '{CLUSTER_NAME}' kept (sites refer to it), marked unreachable")
        except DatabaseError as exc:
            self.stderr.write(f"could not update cluster '{CLUSTER_NAME}': {exc}")

    # ---- status ------------------------------------------------------------------------------------

    def do_status(self, **_: Any) -> None:
        rows = status()
        by_kind: dict[str, list[StatusRow]] = {}
        for row in rows:
            by_kind.setdefault(row.kind, []).append(row)
        for row in by_kind.get("engine", []) + by_kind.get("registry", []) + by_kind.get("worker", []):
            extra = " ".join(f"{k}={v}" for k, v in row.detail.items())
            self.stdout.write(f"{row.kind:<9} {row.name:<16} {row.state:<5} {extra}")
        nodes = by_kind.get("node", [])
        if nodes:
            self.stdout.write("")
            line = "{:<14} {:<8} {:<12} {:<8} {:<13} {}"
            self.stdout.write(line.format("HOSTNAME", "ROLE", "AVAILABILITY", "STATE", "ADDRESS", "LABELS"))
            for row in nodes:
                d = row.detail
                self.stdout.write(
                    line.format(row.name, d["role"], d["availability"], row.state, d["address"], d["labels"])
                )
        services = by_kind.get("service", [])
        self.stdout.write("")
        if not services:
            self.stdout.write("no services")
        else:
            self.stdout.write(f"{'SERVICE':<32} {'REPLICAS':<9} IMAGE")
            for row in services:
                self.stdout.write(f"{row.name:<32} {row.detail['replicas']:<9} {row.detail['image']}")
        if not nodes:
            self.stdout.write(f"\nno swarm on the host engine: run `manage.py lab up` ({config.REGISTRY})")
