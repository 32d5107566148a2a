"""`up()`, `down()`, `status()`, `info()`: the local multi-node Swarm lab as one call each.

`up()` converges from whatever state it finds (nothing, half made, an engine killed, more workers than
asked) to: the bridge, the registry, the host engine as swarm manager, N worker engines joined and
Ready, and the lab images in the registry and already pulled on every worker. Each step checks before
it acts, so a second `up()` only reads (a few seconds).

`down()` removes what the lab made and nothing else: worker engines and everything they started,
their namespaces and links, the bridge, the firewall rule, the registry process. The host dockerd keeps
running (the lab did not necessarily start it, and other work may use it); the host leaves the swarm
only if the lab created that swarm (marked by a swarm label), otherwise only the lab's nodes and
labels are removed. Caches stay unless `purge=True`: the registry storage, the workers' image stores
and the lab filestore under /var/lib/oplab (purge deletes it all, and the lab's images on the host
engine); the rootfs tarball in /var/cache/oplab stays even then (delete it by hand).
"""

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import docker
from docker.errors import APIError, ImageNotFound

from lab import build as images
from lab import config, netns, registry, swarm, workers
from lab import daemon as engine
from lab.build import ImageRef
from lab.config import WorkerNames
from lab.errors import LabError
from lab.fs import remove_tree
from lab.image_inputs import read_spec
from lab.proc import Log
from lab.rootfs import BASE_REPO
from lab.state import State, locked

FILESTORE_ROOT = config.STATE_DIR / "filestore"
# The lab cluster's backup root: every node sees it (one disk), and the host rule allows it because it
# lies inside the filestore root (clusters/stack/backup_store.py); `_` starts no site's slug.
BACKUP_ROOT = FILESTORE_ROOT / "_backups"


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class NodeInfo:
    hostname: str  # e.g. lab-w1 (workers); the machine's hostname for the manager
    node_id: str
    role: str  # manager | worker
    addr: str  # 10.231.0.1 for the manager, 10.231.0.2... for workers
    socket: str  # the node's own engine: unix:///var/run/docker.sock or unix:///run/oplab-wN/docker.sock
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LabInfo:
    manager_socket: str
    registry: str
    swarm_id: str
    swarm_created: bool
    nodes: tuple[NodeInfo, ...]
    images: dict[str, ImageRef]
    filestore_root: str  # a host folder every node can bind-mount (they share this machine's disk)

    @property
    def manager(self) -> NodeInfo:
        return next(n for n in self.nodes if n.role == "manager")

    @property
    def workers(self) -> tuple[NodeInfo, ...]:
        return tuple(n for n in self.nodes if n.role == "worker")

    def node(self, hostname: str) -> NodeInfo:
        return next(n for n in self.nodes if n.hostname == hostname)

    def image(self, name: str) -> ImageRef:
        return self.images[name]

    def client(self, socket: str | None = None) -> docker.DockerClient:
        """A client for the manager (default) or one node's engine; close it when done."""
        return engine.client(socket or self.manager_socket)


@dataclass(frozen=True)
class StatusRow:
    kind: str  # engine | registry | worker | node | service
    name: str
    state: str
    detail: dict[str, str] = field(default_factory=dict)


# ---- up ---------------------------------------------------------------------------------------------


def up(workers_count: int = 2, *, build_images: bool = True, log: Log = _quiet) -> LabInfo:
    """Bring the lab to `workers_count` Ready workers; safe to call again at any time (repairs)."""
    if not 1 <= workers_count <= config.MAX_WORKERS:
        raise LabError(f"workers must be between 1 and {config.MAX_WORKERS}")
    engine.require_root()
    with locked():
        state = State.load()
        # The bridge comes before the host engine: a lab swarm saved in /var/lib/docker listens on the
        # bridge address, and an engine started without it stays in swarm state "error" until restarted.
        netns.ensure_bridge()
        netns.ensure_forward_rule()
        engine.ensure_running()
        registry.ensure()
        log(f"lab: bridge {config.BRIDGE} {config.HOST_ADDR}/{config.PREFIXLEN}, registry {config.REGISTRY}")
        with engine.connect() as cli:
            swarm.ensure_manager(cli)
            swarm.ensure_labels(
                cli,
                swarm.manager_node_id(cli),
                {swarm.ROLE_LABEL: "manager", swarm.NAME_LABEL: config.MANAGER_NAME},
            )
            wanted = [WorkerNames(i) for i in range(1, workers_count + 1)]
            known = set(state.workers) | set(workers.known_indexes())
            extra = sorted(i for i in known if i > workers_count)
            if extra:
                log(f"lab: removing extra workers {', '.join(f'lab-w{i}' for i in extra)}")
                _remove_workers(cli, [WorkerNames(i) for i in extra], purge=False)
            state.workers = [w.index for w in wanted]
            state.save()
            node_ids = _ensure_workers(cli, wanted, log)
            swarm.remove_stale_nodes(cli, keep=set(node_ids.values()))
            swarm.wait_ready(cli, {*node_ids.values(), swarm.manager_node_id(cli)})
            log(f"lab: swarm ready, {len(wanted) + 1} nodes")
            refs = images.ensure_images(cli, log) if build_images else {}
            state.images = {name: {"ref": r.ref, "digest": r.digest} for name, r in refs.items()}
            _prepull(wanted, refs, log)
        FILESTORE_ROOT.mkdir(parents=True, exist_ok=True)
        BACKUP_ROOT.mkdir(parents=True, exist_ok=True)
        state.save()
        return _info(refs)


def _ensure_workers(cli: docker.DockerClient, wanted: list[WorkerNames], log: Log) -> dict[int, str]:
    for w in wanted:
        netns.ensure_worker(w)
        if not workers.pid(w):
            stale = swarm.stale_worker_state(cli, w)
            if stale:
                log(f"lab: resetting the swarm state of {w.hostname}: {stale}")
                remove_tree(w.data_root / "swarm")
            log(f"lab: starting dockerd of {w.hostname} ({w.addr}, {w.socket})")
            workers.start(w)
    for w in wanted:
        workers.wait_ready(w)
    token_node_ids = {}
    for w in wanted:
        with engine.connect(w.socket) as wcli:
            node_id = swarm.ensure_worker(cli, wcli, w)
        swarm.ensure_labels(cli, node_id, {swarm.ROLE_LABEL: "worker", swarm.NAME_LABEL: w.hostname})
        token_node_ids[w.index] = node_id
    return token_node_ids


def _prepull(wanted: list[WorkerNames], refs: dict[str, ImageRef], log: Log) -> None:
    """Pull every lab image on every worker now, so the first service does not wait for 300 MB; not
    an image that only runs on the manager (image.json `"runs_on": "manager"`: the edge)."""
    refs = {n: r for n, r in refs.items() if read_spec(config.IMAGES_DIR, n).get("runs_on") != "manager"}

    def pull_all(w: WorkerNames) -> None:
        # One worker's images one after the other (the first brings the shared base layer); the
        # workers themselves in parallel.
        with engine.connect(w.socket, timeout=600) as wcli:
            for ref in refs.values():
                try:
                    wcli.images.get(ref.ref)
                except ImageNotFound:
                    log(f"lab: pulling {ref.name} on {w.hostname}")
                    wcli.images.pull(ref.repo, tag=ref.tag)

    with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
        list(pool.map(pull_all, wanted))


# ---- down -------------------------------------------------------------------------------------------


def down(*, purge: bool = False, log: Log = _quiet) -> None:
    """Remove every engine, namespace, link, rule and process the lab made (see the module docstring)."""
    engine.require_root()
    with locked():
        state = State.load()
        cli = engine.client() if engine.answers() else None
        try:
            indexes = sorted(set(state.workers) | set(workers.known_indexes()))
            log(f"lab: removing workers {', '.join(f'lab-w{i}' for i in indexes) or '(none)'}")
            _remove_workers(cli, [WorkerNames(i) for i in indexes], purge=purge, log=log)
            if cli is not None:
                _release_host_swarm(cli, log)
                if purge:
                    _remove_host_images(cli)
        finally:
            if cli is not None:
                cli.close()
        registry.stop_all()
        netns.remove_forward_rule()
        netns.remove_bridge()
        if purge:
            # Registry storage, every worker's image store (also of workers no longer wanted), the
            # filestore folders and the state file: all of /var/lib/oplab is the lab's.
            remove_tree(config.STATE_DIR)
        else:
            State(images=state.images).save()
        log("lab: down")


def _remove_workers(
    cli: docker.DockerClient | None, doomed: list[WorkerNames], purge: bool, log: Log = _quiet
) -> None:
    """Stop the workers in parallel (each takes a few seconds), then drop their nodes from the swarm."""
    if not doomed:
        return
    with ThreadPoolExecutor(max_workers=len(doomed)) as pool:
        node_ids = set(pool.map(lambda w: _stop_worker(w, purge, log), doomed))
    if cli is not None and cli.info()["Swarm"].get("ControlAvailable"):
        hostnames = {w.hostname for w in doomed}
        for node in cli.nodes.list():
            if node.id in node_ids or node.attrs["Description"]["Hostname"] in hostnames:
                with contextlib.suppress(APIError):
                    cli.api.remove_node(node.id, force=True)


def _stop_worker(w: WorkerNames, purge: bool, log: Log) -> str:
    """Leave the swarm, stop the engine, remove the namespace; return the node id it had."""
    node_id = ""
    left = False
    if workers.running(w):
        with engine.connect(w.socket) as wcli:
            node_id = wcli.info()["Swarm"].get("NodeID") or ""
            try:
                # Killing first: a leave waits out each task's stop grace period (10 s for a process
                # that ignores SIGTERM). Task containers also outlive a leave: clear them again after
                # it, so the engine's next start finds nothing stale.
                _remove_containers(wcli)
                if wcli.info()["Swarm"].get("LocalNodeState") != "inactive":
                    wcli.swarm.leave(force=True)
                _remove_containers(wcli)
                left = True
            except APIError as exc:
                log(f"lab: {w.hostname} could not leave the swarm cleanly ({exc}); its store is dropped")
    # An engine that could not leave cleanly keeps swarm state and task containers of a swarm that is
    # going away: drop its whole store (the next up pulls the images again) rather than let it
    # block its next start.
    workers.stop_engine(w, purge=purge or not left)
    netns.remove_worker(w)
    log(f"lab: {w.hostname} removed")
    return node_id


def _remove_containers(wcli: docker.DockerClient) -> None:
    for container in wcli.containers.list(all=True):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def _release_host_swarm(cli: docker.DockerClient, log: Log) -> None:
    if swarm.lab_created(cli):
        log("lab: leaving the swarm the lab created")
        swarm.leave(cli)
    elif cli.info()["Swarm"].get("ControlAvailable"):
        swarm.remove_stale_nodes(cli, keep=set())
        swarm.drop_labels(cli, swarm.manager_node_id(cli))


def _remove_host_images(cli: docker.DockerClient) -> None:
    for image in cli.images.list():
        for tag in image.tags:
            if tag.startswith((f"{config.REGISTRY}/{config.PREFIX}/", f"{BASE_REPO}:")):
                with contextlib.suppress(APIError):
                    cli.images.remove(tag, noprune=False)


# ---- info and status --------------------------------------------------------------------------------


def _info(refs: dict[str, ImageRef]) -> LabInfo:
    with engine.connect() as cli:
        attrs = swarm.swarm_attrs(cli)
        nodes = []
        for node in cli.nodes.list():
            labels = node.attrs["Spec"].get("Labels") or {}
            role = node.attrs["Spec"]["Role"]
            hostname = node.attrs["Description"]["Hostname"]
            if role == "manager":
                addr = node.attrs.get("ManagerStatus", {}).get("Addr", "").rsplit(":", 1)[0]
                socket = config.HOST_SOCKET
            else:
                addr = node.attrs["Status"].get("Addr", "")
                name = labels.get(swarm.NAME_LABEL, "")
                if not name.startswith("lab-w") or not name[5:].isdigit():
                    continue
                socket = WorkerNames(int(name[5:])).socket
            nodes.append(NodeInfo(hostname, node.id, role, addr, socket, dict(labels)))
        nodes.sort(key=lambda n: (n.role != "manager", n.hostname))
        created = attrs.get("Spec", {}).get("Labels", {}).get(swarm.CREATED_LABEL) == "true"
    return LabInfo(
        manager_socket=config.HOST_SOCKET,
        registry=config.REGISTRY,
        swarm_id=attrs["ID"],
        swarm_created=created,
        nodes=tuple(nodes),
        images=refs,
        filestore_root=str(FILESTORE_ROOT),
    )


def info() -> LabInfo:
    """The running lab, without changing anything; raises LabError if it is not up."""
    if not engine.answers() or not registry.answers():
        raise LabError("the lab is not up: run `manage.py lab up`")
    with engine.connect() as cli:
        if cli.info()["Swarm"].get("LocalNodeState") != "active":
            raise LabError("the host engine is not in a swarm: run `manage.py lab up`")
    return _info(images.current_refs())


def status() -> list[StatusRow]:
    """One row per engine, registry, worker, node and service; works on a half-made lab too."""
    rows: list[StatusRow] = []
    host_up = engine.answers()
    rows.append(StatusRow("engine", "host", "up" if host_up else "down", {"socket": config.HOST_SOCKET}))
    rows.append(
        StatusRow(
            "registry",
            config.REGISTRY,
            "up" if registry.answers() else "down",
            {"pids": _pids(registry.pids())},
        )
    )
    for index in workers.known_indexes():
        w = WorkerNames(index)
        pid = workers.pid(w)
        state = "up" if pid and engine.answers(w.socket) else "down"
        rows.append(StatusRow("worker", w.hostname, state, {"pid": str(pid or "-"), "socket": w.socket}))
    if not host_up:
        return rows
    with engine.connect() as cli:
        if cli.info()["Swarm"].get("ControlAvailable"):
            rows += _node_rows(cli) + _service_rows(cli)
    return rows


def _pids(pids: list[int]) -> str:
    return ",".join(map(str, pids)) or "-"


def _node_rows(cli: docker.DockerClient) -> list[StatusRow]:
    rows = []
    for node in cli.nodes.list():
        attrs = node.attrs
        labels = attrs["Spec"].get("Labels") or {}
        addr = attrs["Status"].get("Addr", "")
        if attrs["Spec"]["Role"] == "manager":
            addr = attrs.get("ManagerStatus", {}).get("Addr", addr).rsplit(":", 1)[0]
        detail = {
            "role": attrs["Spec"]["Role"],
            "availability": attrs["Spec"]["Availability"],
            "address": addr,
            "labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "id": node.id[:12],
        }
        rows.append(StatusRow("node", attrs["Description"]["Hostname"], attrs["Status"]["State"], detail))
    return sorted(rows, key=lambda r: (r.detail["role"] != "manager", r.name))


def _service_rows(cli: docker.DockerClient) -> list[StatusRow]:
    rows = []
    for svc in cli.api.services(status=True):
        spec = svc["Spec"]
        counts = svc.get("ServiceStatus") or {}
        running, desired = counts.get("RunningTasks", 0), counts.get("DesiredTasks", 0)
        image = spec["TaskTemplate"]["ContainerSpec"]["Image"]
        state = "converged" if running == desired else "converging"
        rows.append(
            StatusRow("service", spec["Name"], state, {"replicas": f"{running}/{desired}", "image": image})
        )
    return sorted(rows, key=lambda r: r.name)
