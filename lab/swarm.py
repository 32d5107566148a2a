"""The lab's Swarm: the host engine is the manager, every worker engine joins it.

Idempotent by construction: every step reads the current state first and only acts on a difference,
so a second `up` sends no write to the Swarm (node specs are updated only when their labels differ:
each update would bump the node's version).

The lab marks a swarm it creates with the label `oplab.created=true` on the swarm spec; `down()` leaves
only such a swarm, so a host that was already a manager of something else keeps it.
"""

import contextlib
import time

import docker
from cryptography import x509
from docker.errors import APIError, NotFound

from lab import config
from lab.config import WorkerNames
from lab.errors import LabError
from lab.proc import wait_for

CREATED_LABEL = "oplab.created"
ROLE_LABEL = "oplab.role"
NAME_LABEL = "oplab.name"
JOIN_DEADLINE_S = 60
READY_DEADLINE_S = 90
PENDING_GRACE_S = 20


def swarm_attrs(cli: docker.DockerClient) -> dict:
    cli.swarm.reload()
    return cli.swarm.attrs


def lab_created(cli: docker.DockerClient) -> bool:
    if cli.info()["Swarm"].get("LocalNodeState") != "active":
        return False
    return swarm_attrs(cli).get("Spec", {}).get("Labels", {}).get(CREATED_LABEL) == "true"


def ensure_manager(cli: docker.DockerClient) -> None:
    """`swarm init` advertising the bridge address, unless the host already manages a usable swarm."""
    local = cli.info()["Swarm"]
    state = local.get("LocalNodeState")
    if state == "inactive":
        cli.swarm.init(
            advertise_addr=config.HOST_ADDR,
            listen_addr=f"{config.HOST_ADDR}:{config.SWARM_PORT}",
            default_addr_pool=[config.SWARM_ADDR_POOL],
            subnet_size=24,
            labels={CREATED_LABEL: "true"},
        )
        return
    if state == "error" and "listen" in (local.get("Error") or ""):
        raise LabError(
            f"the host engine's swarm failed to start ({local.get('Error')}): the engine started before the "
            "lab bridge existed. Restart it (kill $(cat /var/run/docker.pid); lab/install-engine.sh), then "
            "`lab up` again"
        )
    if state != "active" or not local.get("ControlAvailable"):
        raise LabError(
            f"the host engine is in swarm state {state!r} (not a manager); `docker swarm leave --force` it "
            "or use another machine"
        )
    if local.get("NodeAddr") != config.HOST_ADDR:
        raise LabError(
            f"the host engine already manages a swarm advertising {local.get('NodeAddr')}, "
            f"not the lab bridge {config.HOST_ADDR}: workers could not reach it. "
            "Leave it (`docker swarm leave --force`) if it is disposable."
        )


def worker_token(cli: docker.DockerClient) -> str:
    return swarm_attrs(cli)["JoinTokens"]["Worker"]


def _join(wcli: docker.DockerClient, w: WorkerNames, token: str) -> None:
    wcli.swarm.join(
        remote_addrs=[f"{config.HOST_ADDR}:{config.SWARM_PORT}"],
        join_token=token,
        listen_addr=f"{w.addr}:{config.SWARM_PORT}",
        advertise_addr=w.addr,
    )


def ensure_worker(cli: docker.DockerClient, wcli: docker.DockerClient, w: WorkerNames) -> str:
    """Make the worker engine a member of the host's swarm; return its node id.

    An engine that restarts rejoins by itself from its saved swarm state (it is `pending` for a moment);
    one whose node was removed, or that belongs to another swarm, leaves and joins again.
    """
    end = time.monotonic() + (0 if stale_worker_state(cli, w) else PENDING_GRACE_S)
    while _local(wcli).get("LocalNodeState") == "pending" and time.monotonic() < end:
        time.sleep(0.3)
    local = _local(wcli)
    state = local.get("LocalNodeState")
    node_id = local.get("NodeID") or ""
    if state == "active" and node_id and _node_in(cli, node_id) and _reaches_lab_manager(local):
        return node_id
    if state != "inactive":
        with contextlib.suppress(APIError):
            wcli.swarm.leave(force=True)
    _join(wcli, w, worker_token(cli))
    wait_for(
        f"{w.hostname} to join the swarm",
        lambda: _local(wcli).get("LocalNodeState") == "active",
        JOIN_DEADLINE_S,
    )
    return _local(wcli)["NodeID"]


def _local(wcli: docker.DockerClient) -> dict:
    return wcli.info()["Swarm"]


def _node_in(cli: docker.DockerClient, node_id: str) -> bool:
    try:
        cli.nodes.get(node_id)
        return True
    except NotFound:
        return False


def _reaches_lab_manager(local: dict) -> bool:
    # Workers do not see the cluster id; a worker of some other swarm lists other managers.
    managers = local.get("RemoteManagers") or []
    return any(m.get("Addr", "") == f"{config.HOST_ADDR}:{config.SWARM_PORT}" for m in managers)


def stale_worker_state(cli: docker.DockerClient, w: WorkerNames) -> str:
    """Why the saved swarm state of a stopped worker engine cannot rejoin the current swarm ("" if it can).

    A dockerd that starts with such state (the host's swarm was recreated, or the node was removed)
    blocks its API for about 150 s ("swarm component could not be started before timeout") before
    giving up; the caller deletes the state instead, and the worker joins afresh.
    """
    certs = w.data_root / "swarm" / "certificates"
    if not certs.is_dir():
        return ""
    try:
        worker_ca = (certs / "swarm-root-ca.crt").read_text().strip()
        node_cert = x509.load_pem_x509_certificate((certs / "swarm-node.crt").read_bytes())
    except (OSError, ValueError):
        return "unreadable swarm certificates"
    trust_root = (swarm_attrs(cli).get("TLSInfo") or {}).get("TrustRoot", "").strip()
    if trust_root and worker_ca != trust_root:
        return "it belongs to an earlier swarm"
    names = node_cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if not names or not _node_in(cli, str(names[0].value)):
        return "its node was removed from the swarm"
    return ""


def ensure_labels(cli: docker.DockerClient, node_id: str, labels: dict[str, str]) -> None:
    """Add the lab's labels to a node, only if they differ (keeps other labels)."""
    node = cli.nodes.get(node_id)
    spec = node.attrs["Spec"]
    current = spec.get("Labels") or {}
    if all(current.get(k) == v for k, v in labels.items()):
        return
    spec["Labels"] = {**current, **labels}
    node.update(spec)


def drop_labels(cli: docker.DockerClient, node_id: str) -> None:
    node = cli.nodes.get(node_id)
    spec = node.attrs["Spec"]
    current = spec.get("Labels") or {}
    kept = {k: v for k, v in current.items() if not k.startswith(f"{config.PREFIX}.")}
    if kept != current:
        spec["Labels"] = kept
        node.update(spec)


def manager_node_id(cli: docker.DockerClient) -> str:
    return cli.info()["Swarm"]["NodeID"]


def remove_stale_nodes(cli: docker.DockerClient, keep: set[str]) -> list[str]:
    """Remove lab worker nodes that are not current (an engine whose data was reset joins as a new node)."""
    removed = []
    for node in cli.nodes.list():
        labels = node.attrs["Spec"].get("Labels") or {}
        hostname = node.attrs["Description"]["Hostname"]
        is_lab_worker = labels.get(ROLE_LABEL) == "worker" or hostname.startswith("lab-w")
        if is_lab_worker and node.id not in keep and node.attrs["Spec"].get("Role") == "worker":
            try:
                cli.api.remove_node(node.id, force=True)
                removed.append(hostname)
            except NotFound:
                pass
    return removed


def wait_ready(cli: docker.DockerClient, node_ids: set[str], deadline_s: float = READY_DEADLINE_S) -> None:
    def ready() -> bool:
        states = {n.id: n.attrs["Status"]["State"] for n in cli.nodes.list()}
        return all(states.get(node_id) == "ready" for node_id in node_ids)

    wait_for("swarm nodes to be Ready", ready, deadline_s, hint="see /var/log/oplab/dockerd-w*.log", step=0.3)


def leave(cli: docker.DockerClient) -> None:
    cli.swarm.leave(force=True)
