"""The host Docker engine: the Swarm manager of the lab.

There is no systemd on these machines, so the engine is started in the background and polled (as
lab/install-engine.sh does). The lab never installs packages by itself: `install()` runs the script
explicitly (CI and the test fixture call it), everything else tells the user to run it.
"""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker

from lab import config
from lab.errors import LabError
from lab.proc import run, spawn, wait_for

INSTALL_HINT = "run `sudo lab/install-engine.sh` first"
REQUIRED_TOOLS = ("dockerd", "docker-registry", "debootstrap", "nsenter", "unshare", "ip", "iptables")
ENGINE_DEADLINE_S = 60


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab makes network namespaces and engines: run it as root")


def missing_tools() -> list[str]:
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


def client(socket: str = config.HOST_SOCKET, timeout: int = 60) -> docker.DockerClient:
    """A client for one engine; the API version is negotiated (the Debian engine speaks 1.41)."""
    return docker.DockerClient(base_url=socket, version="auto", timeout=timeout)


@contextmanager
def connect(socket: str = config.HOST_SOCKET, timeout: int = 60) -> Iterator[docker.DockerClient]:
    """`client()` closed on exit (DockerClient is not a context manager itself)."""
    cli = client(socket, timeout)
    try:
        yield cli
    finally:
        cli.close()


def answers(socket: str = config.HOST_SOCKET) -> bool:
    try:
        with docker.APIClient(base_url=socket, version="1.41", timeout=3) as api:
            return bool(api.ping())
    except Exception:
        return False


def install() -> None:
    """Run lab/install-engine.sh (idempotent: apt-get only if packages are missing)."""
    require_root()
    run(["sh", str(config.INSTALL_SCRIPT)], timeout=900)


def ensure_running() -> None:
    """Start the host dockerd if it does not answer, and check that it trusts the lab registry."""
    require_root()
    missing = missing_tools()
    if missing:
        raise LabError(f"missing {', '.join(missing)}: {INSTALL_HINT}")
    if not answers():
        spawn(["dockerd"], Path("/var/log/dockerd.log"))
        wait_for("host dockerd", answers, ENGINE_DEADLINE_S, hint="see /var/log/dockerd.log")
    with connect() as cli:
        index = cli.info().get("RegistryConfig", {}).get("IndexConfigs", {})
    if index.get(config.REGISTRY, {}).get("Secure", True):
        raise LabError(f"the host engine does not trust the lab registry {config.REGISTRY}: {INSTALL_HINT}")
