"""The cluster page's Test and Sync buttons, shared with `manage.py cluster test|sync`: the same
status update and the same audit row whichever way the click comes in."""

from typing import Any

from clusters import engine, sync
from clusters.models import Cluster
from panel import audit


def connection_check(cluster: Cluster, *, request: Any = None, actor: Any = None) -> tuple[bool, str]:
    """Connect, check API version, Swarm mode and manager role: (ok, what was found or what is wrong)."""
    try:
        info = engine.check_connection(cluster)
    except engine.EngineError as exc:
        sync.mark_failure(cluster, exc)
        detail = f"failed ({exc.kind})"
        audit.record("cluster.test", request=request, actor=actor, target=cluster, detail=detail)
        return False, exc.message
    Cluster.objects.filter(pk=cluster.pk).update(
        status=Cluster.Status.OK, status_message="", engine_version=info.version
    )
    audit.record("cluster.test", request=request, actor=actor, target=cluster, detail="ok")
    return True, f"Connected: engine {info.version}, API {info.api_version}, Swarm manager."


def synchronise(cluster: Cluster, *, request: Any = None, actor: Any = None) -> sync.SyncResult:
    """Status and nodes as the Swarm says, audited."""
    result = sync.sync_cluster(cluster)
    audit.record("cluster.sync", request=request, actor=actor, target=cluster, detail=result.message)
    return result
