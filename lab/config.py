"""Names, addresses and paths of the local Swarm lab, in one place.

Every object the lab makes carries the `oplab` prefix (bridge, netns, links, run dirs, node labels), so
that `down()` can find what it made even if its state file is lost, and never touches anything else.
The addresses live on a bridge the lab creates itself: nothing here points outside this machine.
"""

import os
from dataclasses import dataclass
from pathlib import Path

PREFIX = "oplab"
BRIDGE = "oplab0"
SUBNET = "10.231.0"
PREFIXLEN = 24
HOST_ADDR = f"{SUBNET}.1"  # host side of the bridge: every engine reaches the manager and registry here
REGISTRY_PORT = 5000
REGISTRY = f"{HOST_ADDR}:{REGISTRY_PORT}"
SWARM_PORT = 2377
# Overlay networks get their /24s from here instead of docker's 10.0.0.0/8 default, so they can never
# overlap the bridge or a network the machine already has.
SWARM_ADDR_POOL = "10.232.0.0/16"
HOST_SOCKET = "unix:///var/run/docker.sock"
MANAGER_NAME = "lab-manager"  # value of the oplab.name label on the host node

STATE_DIR = Path(os.environ.get("OPLAB_STATE_DIR", "/var/lib/oplab"))
CACHE_DIR = Path(os.environ.get("OPLAB_CACHE_DIR", "/var/cache/oplab"))
LOG_DIR = Path(os.environ.get("OPLAB_LOG_DIR", "/var/log/oplab"))
RUN_ROOT = Path("/run")
NETNS_DIR = Path("/run/netns")
STATE_FILE = STATE_DIR / "state.json"
LOCK_FILE = RUN_ROOT / "oplab.lock"

REPO_ROOT = Path(__file__).resolve().parents[1]
LAB_DIR = REPO_ROOT / "lab"
IMAGES_DIR = LAB_DIR / "images"
# The team's shared data beside the checkout (CI clones with it beside too): the real Odoo 19 source
# and its Debian package list, which lab/images/odoo19-real names as `shared:<path>`.
SHARED_DIR = Path(os.environ.get("OPLAB_SHARED_DIR", str(REPO_ROOT.parent / "shared")))
INSTALL_SCRIPT = LAB_DIR / "install-engine.sh"

MAX_WORKERS = 20


@dataclass(frozen=True)
class WorkerNames:
    """Every name derived from a worker's index, so nothing is spelled twice."""

    index: int

    @property
    def key(self) -> str:
        return f"w{self.index}"

    @property
    def netns(self) -> str:
        return f"{PREFIX}-w{self.index}"

    @property
    def hostname(self) -> str:
        return f"lab-w{self.index}"

    @property
    def veth_host(self) -> str:
        return f"{PREFIX}-w{self.index}h"  # at most 15 characters (IFNAMSIZ)

    @property
    def addr(self) -> str:
        return f"{SUBNET}.{self.index + 1}"

    @property
    def run_dir(self) -> Path:
        return RUN_ROOT / f"{PREFIX}-w{self.index}"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def socket(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "docker.pid"

    @property
    def exec_root(self) -> Path:
        return self.run_dir / "exec"

    @property
    def data_root(self) -> Path:
        return STATE_DIR / f"w{self.index}" / "docker"

    @property
    def config_file(self) -> Path:
        return STATE_DIR / f"w{self.index}" / "daemon.json"

    @property
    def log_file(self) -> Path:
        return LOG_DIR / f"dockerd-w{self.index}.log"
