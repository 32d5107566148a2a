"""The lab registry: Debian's `docker-registry` (distribution 2.8) on the bridge address.

It listens on 10.231.0.1:5000, the host side of the lab bridge, so the same image reference works on
the manager and inside every worker namespace (all engines are started with it as an insecure
registry). Its storage under /var/lib/oplab/registry survives `down()`: it is the image cache that
lets the next `up` skip every build.
"""

import os
import urllib.request

from lab import config
from lab.proc import find_pids, spawn, stop, wait_for

ROOT = config.STATE_DIR / "registry"
CONFIG = ROOT / "config.yml"
DATA = ROOT / "data"
LOG = config.LOG_DIR / "registry.log"
CONFIG_TEXT = f"""# written by lab/registry.py
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {DATA}
  delete:
    enabled: true
http:
  addr: {config.REGISTRY}
"""


def pids() -> list[int]:
    """Registry processes serving the lab's config (others, if any, are not the lab's)."""
    return find_pids(
        lambda argv: bool(argv) and os.path.basename(argv[0]) == "docker-registry" and str(CONFIG) in argv
    )


def answers() -> bool:
    try:
        with urllib.request.urlopen(f"http://{config.REGISTRY}/v2/", timeout=3) as resp:  # noqa: S310
            return resp.status == 200
    except OSError:
        return False


def ensure() -> None:
    """Start the registry unless it already serves; needs the bridge address to exist."""
    ROOT.mkdir(parents=True, exist_ok=True)
    DATA.mkdir(parents=True, exist_ok=True)
    if not CONFIG.exists() or CONFIG.read_text() != CONFIG_TEXT:
        CONFIG.write_text(CONFIG_TEXT)
        stop_all()
    if pids() and answers():
        return
    stop_all()
    spawn(["docker-registry", "serve", str(CONFIG)], LOG)
    wait_for(f"lab registry on {config.REGISTRY}", answers, 30, hint=f"see {LOG}")


def stop_all() -> None:
    for pid in pids():
        stop(pid, "docker-registry", grace_s=5)
