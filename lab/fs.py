"""Removing lab directories safely.

An engine's data-root or a debootstrap target can still hold mounts (overlay2 layers, /proc of a
chroot). `rmtree` through a live mount would delete what is mounted there, so mounts under the tree
are detached first, deepest first.
"""

import shutil
import subprocess
from pathlib import Path


def mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix.rstrip("/") or point.startswith(prefix):
                found.append(point)
    return sorted(set(found), key=len, reverse=True)


def remove_tree(root: Path) -> None:
    if not root.exists():
        return
    for point in mounts_under(root):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    if mounts_under(root):
        raise RuntimeError(f"{root} still has mounts; not removing it")
    shutil.rmtree(root, ignore_errors=False)
