"""The local Swarm lab itself: nodes, idempotence, overlay DNS, registry images, repair, down.

Real engines, real swarm: these fail (never skip) when the engine cannot be started.
"""

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import docker
import pytest
from docker.types import EndpointSpec, RestartPolicy, ServiceMode

from lab import api, config, netns, registry, swarm, workers
from lab import build as images
from lab.api import LabInfo
from lab.config import WorkerNames
from lab.proc import find_pids, pid_alive
from lab.state import locked

pytestmark = [
    pytest.mark.integration,
    pytest.mark.lab,
    pytest.mark.serial,
]  # it takes the lab down and kills engines

WORKER_CONSTRAINT = f"node.labels.{swarm.ROLE_LABEL}==worker"

# Each replica serves its own hostname on :7000 and dials every other address behind tasks.<service>.
PEER_SCRIPT = """
import os, socket, threading, time
me = socket.gethostname()
my_ip = socket.gethostbyname(me)
server = socket.create_server(("0.0.0.0", 7000))
def serve():
    while True:
        conn, _ = server.accept()
        conn.sendall(me.encode())
        conn.close()
threading.Thread(target=serve, daemon=True).start()
while True:
    try:
        found = socket.getaddrinfo("tasks." + os.environ["SVC"], 7000, proto=socket.IPPROTO_TCP)
        ips = {a[4][0] for a in found}
    except OSError:
        ips = set()
    for ip in sorted(ips - {my_ip}):
        try:
            with socket.create_connection((ip, 7000), timeout=2) as conn:
                print("PEER-OK", me, "->", ip, conn.recv(100).decode(), flush=True)
        except OSError as exc:
            print("PEER-FAIL", me, "->", ip, exc, flush=True)
    time.sleep(1)
"""


def wait(what: str, probe: Callable[[], object], deadline_s: float = 90) -> object:
    end = time.monotonic() + deadline_s
    while True:
        result = probe()
        if result:
            return result
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.5)


@contextmanager
def manager(lab: LabInfo) -> Iterator[docker.DockerClient]:
    with closing(lab.client()) as cli:
        yield cli


def node_states(cli: docker.DockerClient) -> dict[str, str]:
    return {n.attrs["Description"]["Hostname"]: n.attrs["Status"]["State"] for n in cli.nodes.list()}


def snapshot(lab: LabInfo) -> dict:
    """Everything `up()` could change: node specs and versions, engine and registry pids, the state file."""
    with manager(lab) as cli:
        nodes = {n.id: (n.attrs["Version"]["Index"], n.attrs["Spec"]) for n in cli.nodes.list()}
        swarm_version = swarm.swarm_attrs(cli)["Version"]["Index"]
    return {
        "nodes": nodes,
        "swarm_version": swarm_version,
        "worker_pids": {w.hostname: workers.pid(WorkerNames(int(w.hostname[5:]))) for w in lab.workers},
        "registry_pids": registry.pids(),
        "state": config.STATE_FILE.read_text(),
        "links": netns.lab_links(),
        "netns": netns.lab_netns(),
    }


def test_three_nodes_ready(lab: LabInfo) -> None:
    with manager(lab) as cli:
        states = node_states(cli)
    assert len(lab.nodes) == 3
    assert states == {n.hostname: "ready" for n in lab.nodes}
    assert {w.hostname for w in lab.workers} == {"lab-w1", "lab-w2"}
    assert lab.manager.addr == config.HOST_ADDR
    for w in lab.workers:
        assert w.labels == {swarm.ROLE_LABEL: "worker", swarm.NAME_LABEL: w.hostname}
        assert w.socket == f"unix:///run/oplab-{w.hostname[4:]}/docker.sock"


def test_second_up_changes_nothing(lab: LabInfo) -> None:
    before = snapshot(lab)
    started = time.monotonic()
    again = api.up(len(lab.workers))
    elapsed = time.monotonic() - started
    assert snapshot(lab) == before
    assert again.nodes == lab.nodes
    assert again.images == lab.images
    print(f"TIMING second_up_s={elapsed:.1f}")
    assert elapsed < 30


def test_overlay_dnsrr_replicas_on_two_nodes_reach_each_other(lab: LabInfo) -> None:
    name = f"oplab-t-peers-{uuid.uuid4().hex[:6]}"
    with manager(lab) as cli:
        net = cli.networks.create(name, driver="overlay", attachable=True)
        svc = None
        try:
            svc = cli.services.create(
                lab.image("odoo").pinned,
                command=["python3", "-c", PEER_SCRIPT],
                name=name,
                env=[f"SVC={name}"],
                networks=[net.id],
                endpoint_spec=EndpointSpec(mode="dnsrr"),  # no IPVS in this kernel: no VIP
                mode=ServiceMode("replicated", replicas=2),
                constraints=[WORKER_CONSTRAINT],
                maxreplicas=1,
            )

            def running_nodes() -> set[str]:
                return {
                    t["NodeID"]
                    for t in svc.tasks(filters={"desired-state": "running"})
                    if t["Status"]["State"] == "running"
                }

            wait("2 running replicas", lambda: len(running_nodes()) == 2)
            nodes = running_nodes()
            assert nodes == {w.node_id for w in lab.workers}

            def peers_ok() -> set[str]:
                out = b"".join(svc.logs(stdout=True, stderr=True)).decode(errors="replace")
                return {line.split()[1] for line in out.splitlines() if "PEER-OK" in line}

            # Two distinct replicas each reached the other through tasks.<service>.
            wait("both replicas to reach each other", lambda: len(peers_ok()) == 2)
        finally:
            if svc is not None:
                svc.remove()
            wait("overlay network to free", lambda: _remove_network(cli, net.id), 30)


def _remove_network(cli: docker.DockerClient, net_id: str) -> bool:
    try:
        cli.networks.get(net_id).remove()
    except docker.errors.NotFound:
        return True
    except docker.errors.APIError:
        return False
    return True


def test_images_in_registry_and_worker_runs_odoo_pinned_by_digest(lab: LabInfo) -> None:
    assert set(lab.images) >= {"odoo", "postgres", "redis"}
    for ref in lab.images.values():
        assert ref.repo == f"{config.REGISTRY}/oplab/{ref.name}"
        assert images.registry_digest(ref.name, ref.tag) == ref.digest
    odoo = lab.image("odoo")
    worker = lab.node("lab-w1")
    name = f"oplab-t-pin-{uuid.uuid4().hex[:6]}"
    with manager(lab) as cli:
        svc = cli.services.create(
            odoo.pinned,
            command=[
                "sh",
                "-c",
                'test -x /usr/local/bin/odoo && echo "IMAGE-OK $(readlink -f /usr/local/bin/odoo)"',
            ],
            name=name,
            mode=ServiceMode("replicated-job", replicas=1),
            restart_policy=RestartPolicy(condition="none"),
            constraints=[f"node.hostname=={worker.hostname}"],
        )
        try:
            task = wait(
                "the job to complete",
                lambda: next(
                    (t for t in svc.tasks() if t["Status"]["State"] in {"complete", "failed", "rejected"}),
                    None,
                ),
            )
            assert isinstance(task, dict)
            assert task["Status"]["State"] == "complete", task["Status"]
            assert task["NodeID"] == worker.node_id
            assert task["Spec"]["ContainerSpec"]["Image"] == odoo.pinned
            logs = b"".join(svc.logs(stdout=True, stderr=True)).decode()
            assert "IMAGE-OK /opt/odoo/odoo" in logs
        finally:
            svc.remove()
    with closing(lab.client(worker.socket)) as wcli:
        assert odoo.pinned in wcli.images.get(odoo.ref).attrs["RepoDigests"]


def test_up_repairs_a_killed_worker_engine(lab: LabInfo) -> None:
    w = WorkerNames(2)
    old = workers.pid(w)
    assert old
    os.kill(old, signal.SIGKILL)
    wait("the killed dockerd to be gone", lambda: not pid_alive(old), 10)
    started = time.monotonic()
    again = api.up(len(lab.workers))
    elapsed = time.monotonic() - started
    new = workers.pid(w)
    assert new and new != old
    assert again.node("lab-w2").node_id == lab.node("lab-w2").node_id  # rejoined from its saved swarm state
    with manager(lab) as cli:
        assert node_states(cli) == {n.hostname: "ready" for n in lab.nodes}
    print(f"TIMING repair_up_s={elapsed:.1f}")


def leftovers() -> dict[str, list]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    ip_netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    ip_link = json.loads(
        subprocess.run(["ip", "-j", "link"], capture_output=True, text=True, check=True).stdout
    )
    rules = subprocess.run(
        ["iptables", "-w", "-S", "FORWARD"], capture_output=True, text=True, check=True
    ).stdout
    return {
        "processes": [line for line in ps.splitlines() if "oplab" in line and "pytest" not in line],
        "oplab_pids": find_pids(
            lambda argv: any("oplab" in part for part in argv) and "pytest" not in " ".join(argv)
        ),
        "netns": [line for line in ip_netns.splitlines() if "oplab" in line],
        "links": [link["ifname"] for link in ip_link if "oplab" in link["ifname"]],
        "rules": [line for line in rules.splitlines() if "oplab" in line],
        "cgroups": [str(p) for p in workers.CGROUP_ROOT.glob("*/oplab-*")],
    }


def foreign_bridges() -> set[str]:
    return {p.parent.name for p in Path("/sys/class/net").glob("*/bridge") if "oplab" not in p.parent.name}


def test_down_removes_everything_then_up_again(lab: LabInfo) -> None:
    """Runs last in the session (tests/lab/conftest.py) and leaves a fresh lab up for the next session.

    The lab lock is held from down to the re-up: other sessions on this machine share the lab, and
    their fixture's up() must not recreate the bridge while this test looks for leftovers.
    """
    with locked():
        with manager(lab) as cli:
            created = swarm.lab_created(cli)
        others = foreign_bridges()
        started = time.monotonic()
        api.down(log=lambda line: print(f"{time.monotonic() - started:6.1f} {line}"))
        print(f"TIMING down_s={time.monotonic() - started:.1f}")
        try:
            found = leftovers()
            assert found == {kind: [] for kind in found}
            assert not registry.answers()
            assert foreign_bridges() >= others  # docker0, docker_gwbridge...: nothing else is touched
            with manager(lab) as cli:
                cli.ping()  # the host engine keeps running
                swarm_state = cli.info()["Swarm"]["LocalNodeState"]
            assert swarm_state == ("inactive" if created else "active")
        finally:
            started = time.monotonic()
            again = api.up(len(lab.workers))
            print(f"TIMING up_after_down_s={time.monotonic() - started:.1f}")
    with manager(lab) as cli:
        assert set(node_states(cli).values()) == {"ready"}
    assert len(again.nodes) == 3
