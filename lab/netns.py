"""The lab's network: one bridge on the host, one network namespace per worker engine.

    host: oplab0 10.231.0.1/24  (swarm manager :2377, registry :5000)
      +-- oplab-w1h <veth> eth0 10.231.0.2/24 in netns oplab-w1   (dockerd of lab-w1)
      +-- oplab-w2h <veth> eth0 10.231.0.3/24 in netns oplab-w2   (dockerd of lab-w2)

A bridge rather than point-to-point veths: workers must reach each other too (VXLAN between the nodes
of an overlay network). The namespaces get no default route, so nothing in the lab can reach beyond
this machine.

Docker sets the host's FORWARD policy to DROP and the kernel passes bridged frames through iptables
(br_netfilter), which would drop worker-to-worker traffic on the bridge: one ACCEPT rule for
oplab0 -> oplab0, tagged with a comment so that `down()` removes exactly it.

Commands use `ip -n NETNS`, which only switches the network namespace. `ip netns exec` must not be used
to start engines: it remounts /sys and dockerd then fails with "Devices cgroup isn't mounted".
"""

import json
import os
import subprocess
from pathlib import Path

from lab import config
from lab.config import WorkerNames
from lab.proc import run

RULE = [
    "FORWARD",
    "-i",
    config.BRIDGE,
    "-o",
    config.BRIDGE,
    "-m",
    "comment",
    "--comment",
    "oplab",
    "-j",
    "ACCEPT",
]


def _links(netns: str | None = None) -> dict[str, dict]:
    cmd = ["ip", "-j", "addr", "show"] if netns is None else ["ip", "-n", netns, "-j", "addr", "show"]
    return {link["ifname"]: link for link in json.loads(run(cmd) or "[]")}


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def lab_links() -> list[str]:
    """Host links the lab made (bridge and host ends of the veths)."""
    return sorted(name for name in os.listdir("/sys/class/net") if name.startswith(config.PREFIX))


def lab_netns() -> list[str]:
    if not config.NETNS_DIR.is_dir():
        return []
    return sorted(name for name in os.listdir(config.NETNS_DIR) if name.startswith(f"{config.PREFIX}-"))


def _has_addr(link: dict, addr: str) -> bool:
    return any(info.get("local") == addr for info in link.get("addr_info", []))


def ensure_bridge() -> None:
    if not link_exists(config.BRIDGE):
        run(["ip", "link", "add", config.BRIDGE, "type", "bridge"])
    if not _has_addr(_links()[config.BRIDGE], config.HOST_ADDR):
        run(["ip", "addr", "add", f"{config.HOST_ADDR}/{config.PREFIXLEN}", "dev", config.BRIDGE])
    run(["ip", "link", "set", config.BRIDGE, "up"])


def _rule_present() -> bool:
    return subprocess.run(["iptables", "-w", "-C", *RULE], capture_output=True, check=False).returncode == 0


def ensure_forward_rule() -> None:
    if not _rule_present():
        run(["iptables", "-w", "-I", RULE[0], "1", *RULE[1:]])


def remove_forward_rule() -> None:
    while _rule_present():
        run(["iptables", "-w", "-D", *RULE])


def ensure_worker(w: WorkerNames) -> None:
    if w.netns not in lab_netns():
        run(["ip", "netns", "add", w.netns])
    if not link_exists(w.veth_host):
        run(["ip", "link", "add", w.veth_host, "type", "veth", "peer", "name", "eth0", "netns", w.netns])
    run(["ip", "link", "set", w.veth_host, "master", config.BRIDGE, "up"])
    inside = _links(w.netns)
    if not _has_addr(inside["eth0"], w.addr):
        run(["ip", "-n", w.netns, "addr", "add", f"{w.addr}/{config.PREFIXLEN}", "dev", "eth0"])
    run(["ip", "-n", w.netns, "link", "set", "lo", "up"])
    run(["ip", "-n", w.netns, "link", "set", "eth0", "up"])


def remove_worker(w: WorkerNames) -> None:
    if link_exists(w.veth_host):
        run(["ip", "link", "del", w.veth_host])
    if w.netns in lab_netns():
        run(["ip", "netns", "del", w.netns])


def remove_bridge() -> None:
    if link_exists(config.BRIDGE):
        run(["ip", "link", "del", config.BRIDGE])
