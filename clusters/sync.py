"""Bring the panel's picture of a cluster up to date: its status and its nodes, as the Swarm says.

Runs on demand (the cluster page's buttons, `manage.py cluster sync`) and on beat every
SYNC_SECONDS, so a node that goes down shows as down within about 30 s: Swarm itself marks a
node down after missing its heartbeats (about 15 s with the default dispatcher period), plus one
beat period.
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from clusters.engine import EngineError, client_for, inspect
from clusters.models import Cluster, Node
from panel import notify

log = logging.getLogger(__name__)
SYNC_SECONDS = 10.0


@dataclass
class SyncResult:
    ok: bool
    message: str
    nodes: int = 0
    changed: int = 0


def _node_fields(attrs: dict) -> dict:
    spec, status, desc = attrs.get("Spec", {}), attrs.get("Status", {}), attrs.get("Description", {})
    manager = attrs.get("ManagerStatus") or {}
    address = status.get("Addr", "")
    # A manager often reports 0.0.0.0 as its node address; its manager address is the real one.
    if manager.get("Addr") and address in ("", "0.0.0.0"):  # noqa: S104
        address = manager["Addr"].rsplit(":", 1)[0]
    return {
        "hostname": desc.get("Hostname", ""),
        "role": spec.get("Role", ""),
        "availability": spec.get("Availability", ""),
        "state": status.get("State", ""),
        "address": address,
        "labels": spec.get("Labels") or {},
        "engine_version": desc.get("Engine", {}).get("EngineVersion", ""),
    }


def _readiness(state: str) -> bool:
    return state == "ready"


def _announce(cluster: Cluster, node: Node, state: str) -> None:
    """node.down / node.up: the dedup key names the event, so a flapping node sends one of each
    per window, whatever the number of flaps (panel.notify)."""
    event = "node.up" if _readiness(state) else "node.down"
    payload = {"node_id": node.node_id, "hostname": node.hostname, "role": node.role, "state": state}
    notify.emit(event, cluster=cluster, payload=payload, subject=node.node_id)


def mark_failure(cluster: Cluster, error: EngineError) -> None:
    status = Cluster.Status.UNREACHABLE if error.kind == "unreachable" else Cluster.Status.ERROR
    Cluster.objects.filter(pk=cluster.pk).update(status=status, status_message=error.message)
    cluster.status, cluster.status_message = status, error.message


def sync_cluster(cluster: Cluster) -> SyncResult:
    try:
        with client_for(cluster) as client:
            info = inspect(client, cluster.endpoint)
            live = {n.attrs["ID"]: _node_fields(n.attrs) for n in client.nodes.list()}
    except EngineError as exc:
        mark_failure(cluster, exc)
        return SyncResult(ok=False, message=exc.message)
    changed = 0
    turned: list[tuple[Node, str]] = []
    with transaction.atomic():
        known = {n.node_id: n for n in Node.objects.select_for_update().filter(cluster=cluster)}
        for node_id, fields in live.items():
            node = known.pop(node_id, None)
            if node is None:
                Node.objects.create(cluster=cluster, node_id=node_id, **fields)
                changed += 1
            elif any(getattr(node, k) != v for k, v in fields.items()):
                if _readiness(node.state) != _readiness(fields["state"]):
                    turned.append((node, fields["state"]))
                for k, v in fields.items():
                    setattr(node, k, v)
                node.save()
                changed += 1
        if known:  # removed from the Swarm (`docker node rm`)
            Node.objects.filter(pk__in=[n.pk for n in known.values()]).delete()
            changed += len(known)
        Cluster.objects.filter(pk=cluster.pk).update(
            status=Cluster.Status.OK, status_message="", engine_version=info.version, last_sync=timezone.now()
        )
    cluster.refresh_from_db()
    for node, state in turned:
        _announce(cluster, node, state)
    return SyncResult(
        ok=True, message=f"{len(live)} nodes, {changed} changed", nodes=len(live), changed=changed
    )
