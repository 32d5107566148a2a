"""The Debian base of every lab image: a root file system made by `debootstrap`, imported once.

No public registry can be reached from these machines, so the images start from a root file system
made from the mirror apt already uses. It takes about 50 s to make, so its tarball is cached, keyed by
the package list and the recipe (/var/cache/oplab/rootfs-<suite>-<key>.tar), and only remade when
either changes. The tarball becomes one base image (`docker import`, with PATH/LANG set by --change)
that every lab image is a small layer on: a worker pulls the 300 MB once, not once per image.
"""

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import docker

from lab import config
from lab.errors import LabError
from lab.fs import remove_tree
from lab.proc import Log, run

SUITE = "bookworm"
PACKAGES = (
    "python3-minimal",
    "python3-psycopg2",
    "python3-redis",
    "postgresql",
    "postgresql-client",
    "redis-server",
    "curl",
    "ca-certificates",
)
# Bump when the rootfs recipe below changes (pruning, users): the cache key must change with it.
RECIPE_VERSION = "1"
PRUNE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "var/log",
    # PostgreSQL's JIT pulls in LLVM (130 MB); without it the server runs with jit off: enough for a lab.
    "usr/lib/postgresql/15/lib/bitcode",
    "usr/lib/postgresql/15/lib/llvmjit.so",
    "usr/lib/postgresql/15/lib/llvmjit_types.bc",
    "usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
    # The Debian package made a default cluster; the lab's entrypoint initdb's its own data directory.
    "etc/postgresql/15/main",
    "var/lib/postgresql/15/main",
)
BASE_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
]
BASE_REPO = f"{config.PREFIX}/base"


def _sources_entries() -> list[tuple[str, list[str]]]:
    """(uri, suites) of every enabled `deb` source, one-line and deb822 formats."""
    entries: list[tuple[str, list[str]]] = []
    apt = Path("/etc/apt")
    for path in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(parts) >= 3 and parts[0] == "deb":
                entries.append((parts[1], [parts[2]]))
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                for uri in fields.get("uris", "").split():
                    entries.append((uri, fields.get("suites", "").split()))
    return entries


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses for the main suite (never a hardcoded host)."""
    for uri, suites in _sources_entries():
        if SUITE in suites and "security" not in uri:
            return uri
    raise LabError(f"no apt source for Debian {SUITE} in /etc/apt/sources.list(.d): cannot debootstrap")


@dataclass(frozen=True)
class Base:
    """One Debian root file system: its packages, and the uid of its `odoo` user (None: the
    system picks one; the real Odoo image wants the official image's 101)."""

    packages: tuple[str, ...] = PACKAGES
    odoo_uid: int | None = None

    @property
    def key(self) -> str:
        spec: dict[str, object] = {
            "suite": SUITE,
            "packages": sorted(self.packages),
            "prune": PRUNE,
            "recipe": RECIPE_VERSION,
        }
        if self.odoo_uid is not None:
            spec["odoo_uid"] = self.odoo_uid
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


LAB_BASE = Base()


def rootfs_key() -> str:
    return LAB_BASE.key


def _add_odoo_user(target: Path, uid: int | None) -> None:
    # The stand-in may drop to this user, like the official Odoo image (whose odoo user is 101;
    # in the lab base Debian gave 101 to postgres, so the uid differs there).
    fixed = ["--uid", str(uid), "--user-group"] if uid is not None else []
    run(["chroot", str(target), "useradd", "--system", *fixed, "--home-dir", "/var/lib/odoo", "odoo"])
    (target / "var/lib/odoo").mkdir(parents=True, exist_ok=True)


def rootfs_tarball(log: Log, base: Base = LAB_BASE) -> Path:
    """The cached rootfs tarball, made by debootstrap when missing (about a minute, 330 MB)."""
    key = base.key
    tarball = config.CACHE_DIR / f"rootfs-{SUITE}-{key}.tar"
    if tarball.exists():
        return tarball
    config.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = config.CACHE_DIR / f"build-{key}"
    remove_tree(work)
    target = work / "root"
    mirror = debian_mirror()
    log(f"images: debootstrap {SUITE} ({len(base.packages)} packages) from {mirror} (first run only)")
    try:
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(base.packages)}",
                SUITE,
                str(target),
                mirror,
            ],
            timeout=1800,
        )
        for rel in PRUNE:
            victim = target / rel
            if victim.is_dir() and not victim.is_symlink():
                shutil.rmtree(victim)
            elif victim.exists() or victim.is_symlink():
                victim.unlink()
        (target / "var/log").mkdir(exist_ok=True)
        _add_odoo_user(target, base.odoo_uid)
        partial = tarball.with_suffix(".partial")
        run(["tar", "--numeric-owner", "-C", str(target), "-cf", str(partial), "."], timeout=600)
        partial.rename(tarball)
    finally:
        remove_tree(work)
    return tarball


def ensure_base(cli: docker.DockerClient, log: Log, base: Base = LAB_BASE) -> str:
    """The base image of `base` on the host engine, imported from its tarball when missing."""
    ref = f"{BASE_REPO}:{base.key}"
    try:
        cli.images.get(ref)
        return ref
    except docker.errors.ImageNotFound:
        pass
    tarball = rootfs_tarball(log, base)
    log(f"images: docker import {tarball.name} as {ref}")
    if not tarball.is_file():  # docker-py would take a missing path for a URL to fetch
        raise LabError(f"{tarball} vanished")
    cli.api.import_image_from_file(str(tarball), repository=BASE_REPO, tag=base.key, changes=BASE_CHANGES)
    cli.images.get(ref)
    return ref
