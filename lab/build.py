"""The lab's images (odoo stand-in, postgres, redis), built here and served by the lab registry.

No public registry can be reached from these machines, so images start from a Debian root file system
made by `debootstrap` from the mirror apt already uses. Two caches keep runs fast:

- the root file system tarball, keyed by the package list (/var/cache/oplab/rootfs-<key>.tar): about
  50 s to make, so it is only rebuilt when the package list or the recipe changes;
- the registry itself: every image is tagged with a hash of everything that goes into it (the rootfs
  key and every file under lab/images/), and nothing is built or pushed when the registry already has
  that tag. A second `up` therefore costs three HTTP HEADs.

The rootfs becomes one base image (`docker import`, with PATH/LANG set by --change); each lab image is a
small layer on top (a generated Dockerfile: COPY plus ENTRYPOINT/CMD/ENV from lab/images/<name>/image.json).
Sharing the base layer means a worker pulls the 300 MB once, not once per image.
"""

import contextlib
import hashlib
import json
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from lab import config
from lab.errors import LabError
from lab.fs import remove_tree
from lab.proc import run

Log = Callable[[str], None]

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
# Bump when the way lab images are assembled from lab/images/ changes.
BUILDER_VERSION = "4"
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
SPEC_KEYS = {
    "copy",
    "links",
    "mkdir",
    "owned",
    "entrypoint",
    "cmd",
    "env",
    "expose",
    "workdir",
    "user",
    "comment",
}
SKIP_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)
# Used only while lab/images/odoo/odoo (owned by the stand-in's author) does not exist yet.
PLACEHOLDER_ODOO = """#!/usr/bin/python3
# Placeholder written by lab/build.py: the real stand-in is lab/images/odoo/odoo.
import http.server, sys
if "--version" in sys.argv:
    print("Odoo Server 17.0 (lab placeholder)")
    sys.exit(0)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
http.server.ThreadingHTTPServer(("", 8069), H).serve_forever()
"""


@dataclass(frozen=True)
class ImageRef:
    """One lab image in the lab registry; `pinned` is what a service spec should use."""

    name: str
    repo: str  # e.g. 10.231.0.1:5000/oplab/odoo
    tag: str  # content hash of the image's inputs
    digest: str  # sha256:... as the registry reports it

    @property
    def ref(self) -> str:
        return f"{self.repo}:{self.tag}"

    @property
    def pinned(self) -> str:
        return f"{self.repo}@{self.digest}"

    @property
    def series(self) -> str:
        """The Odoo series an Odoo stand-in image runs as (its ODOO_STANDIN_SERIES), for the sites on it."""
        env = _spec(config.IMAGES_DIR, self.name).get("env", {})
        return str(env.get("ODOO_STANDIN_SERIES", "17.0"))


def repo_for(name: str) -> str:
    return f"{config.REGISTRY}/{config.PREFIX}/{name}"


def image_names(images_dir: Path = config.IMAGES_DIR) -> list[str]:
    """Every directory of lab/images/ that has an image.json is an image."""
    return sorted(p.parent.name for p in images_dir.glob("*/image.json"))


# ---- inputs and hashes ----------------------------------------------------------------------------


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


def rootfs_key() -> str:
    spec = {"suite": SUITE, "packages": sorted(PACKAGES), "prune": PRUNE, "recipe": RECIPE_VERSION}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _input_files(images_dir: Path) -> list[Path]:
    files = []
    for path in sorted(images_dir.rglob("*")):
        rel = path.relative_to(images_dir)
        if SKIP_NAMES & set(rel.parts) or path.suffix in {".pyc", ".swp"} or path.name.endswith("~"):
            continue
        if path.is_symlink() or path.is_file():
            files.append(path)
    return files


def content_hash(images_dir: Path = config.IMAGES_DIR) -> str:
    """Tag for every lab image: changes whenever the rootfs recipe or any file under lab/images/ does."""
    digest = hashlib.sha256(f"{rootfs_key()}:{BUILDER_VERSION}\n".encode())
    for path in _input_files(images_dir):
        rel = path.relative_to(images_dir).as_posix()
        if path.is_symlink():
            digest.update(f"L {rel} {path.readlink()}\n".encode())
            continue
        executable = bool(path.stat().st_mode & stat.S_IXUSR)
        digest.update(f"F {rel} {int(executable)} {path.stat().st_size}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


# ---- registry -------------------------------------------------------------------------------------


def registry_digest(name: str, tag: str) -> str | None:
    """The manifest digest of oplab/<name>:<tag> in the lab registry, or None if it is not there."""
    url = f"http://{config.REGISTRY}/v2/{config.PREFIX}/{name}/manifests/{tag}"
    req = urllib.request.Request(url, method="HEAD", headers={"Accept": MANIFEST_TYPES})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - the lab's own registry
            return resp.headers.get("Docker-Content-Digest")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise LabError(f"lab registry answered {exc.code} for {url}") from exc
    except OSError as exc:
        raise LabError(f"lab registry {config.REGISTRY} does not answer ({exc}); is the lab up?") from exc


def current_refs() -> dict[str, ImageRef]:
    """The refs of the current inputs, without building: raises if the registry lacks one."""
    tag = content_hash()
    refs = {}
    for name in image_names():
        digest = registry_digest(name, tag)
        if not digest:
            raise LabError(f"{repo_for(name)}:{tag} is not in the lab registry: run `manage.py lab up`")
        refs[name] = ImageRef(name, repo_for(name), tag, digest)
    return refs


# ---- rootfs and base image ------------------------------------------------------------------------


def rootfs_tarball(log: Log) -> Path:
    """The cached rootfs tarball, made by debootstrap when missing (about a minute, 330 MB)."""
    key = rootfs_key()
    tarball = config.CACHE_DIR / f"rootfs-{SUITE}-{key}.tar"
    if tarball.exists():
        return tarball
    config.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = config.CACHE_DIR / f"build-{key}"
    remove_tree(work)
    target = work / "root"
    mirror = debian_mirror()
    log(f"images: debootstrap {SUITE} from {mirror} (first run only, about a minute)")
    try:
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
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
        # The stand-in may drop to this user, like the official Odoo image (whose odoo user is 101;
        # Debian gave 101 to postgres here, so the uid differs).
        run(["chroot", str(target), "useradd", "--system", "--home-dir", "/var/lib/odoo", "odoo"])
        (target / "var/lib/odoo").mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".partial")
        run(["tar", "--numeric-owner", "-C", str(target), "-cf", str(partial), "."], timeout=600)
        partial.rename(tarball)
    finally:
        remove_tree(work)
    return tarball


def ensure_base(cli: docker.DockerClient, log: Log) -> str:
    ref = f"{BASE_REPO}:{rootfs_key()}"
    try:
        cli.images.get(ref)
        return ref
    except docker.errors.ImageNotFound:
        pass
    tarball = rootfs_tarball(log)
    log(f"images: docker import {tarball.name} as {ref}")
    if not tarball.is_file():  # docker-py would take a missing path for a URL to fetch
        raise LabError(f"{tarball} vanished")
    cli.api.import_image_from_file(str(tarball), repository=BASE_REPO, tag=rootfs_key(), changes=BASE_CHANGES)
    cli.images.get(ref)
    return ref


# ---- lab images -----------------------------------------------------------------------------------


def _spec(images_dir: Path, name: str) -> dict[str, Any]:
    path = images_dir / name / "image.json"
    try:
        spec = json.loads(path.read_text())
    except ValueError as exc:
        raise LabError(f"{path}: {exc}") from exc
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise LabError(f"{path}: unknown keys {sorted(unknown)}")
    return spec


def _copy_into(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(
            src,
            dest,
            symlinks=True,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("image.json", "*.pyc", *SKIP_NAMES),
        )
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def _context(images_dir: Path, name: str, base: str, tag: str, ctx: Path) -> None:
    """A build context: root/ mirrors the files' places in the image, then a generated Dockerfile."""
    spec = _spec(images_dir, name)
    src_dir = images_dir / name
    root = ctx / "root"
    root.mkdir()
    for src, dest in spec.get("copy", {}).items():
        _copy_into(src_dir / src, root / dest.lstrip("/"))
    if name == "odoo" and not (src_dir / "odoo").exists():
        placeholder = root / "opt/odoo/odoo"
        placeholder.parent.mkdir(parents=True, exist_ok=True)
        placeholder.write_text(PLACEHOLDER_ODOO)
        placeholder.chmod(0o755)
    for folder in spec.get("mkdir", []):
        (root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for link, target in spec.get("links", {}).items():
        path = root / link.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
        # A link put on PATH names a command: make sure its target can be executed.
        inside = root / target.lstrip("/")
        if inside.is_file():
            inside.chmod(inside.stat().st_mode | 0o755)
    lines = [f"FROM {base}", "COPY root/ /"]
    lines += [f"ENV {key}={json.dumps(str(value))}" for key, value in spec.get("env", {}).items()]
    # Folders a non-root user must own, as official images prepare their volume paths (a named
    # volume mounted there starts with the folder's owner).
    for path, user in spec.get("owned", {}).items():
        lines.append(f"RUN mkdir -p {path} && chown {user}:{user} {path}")
    if "workdir" in spec:
        lines.append(f"WORKDIR {spec['workdir']}")
    if "user" in spec:
        lines.append(f"USER {spec['user']}")
    lines += [f"EXPOSE {port}" for port in spec.get("expose", [])]
    lines.append(f"ENTRYPOINT {json.dumps(spec.get('entrypoint', []))}")
    lines.append(f"CMD {json.dumps(spec.get('cmd', []))}")
    lines.append(f'LABEL org.oplab.image="{name}" org.oplab.hash="{tag}"')
    (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")


def _stream_errors(stream: Any, what: str) -> None:
    for chunk in stream:
        if isinstance(chunk, dict) and (chunk.get("error") or chunk.get("errorDetail")):
            raise LabError(f"{what}: {chunk.get('error') or chunk.get('errorDetail')}")


def build_and_push(cli: docker.DockerClient, images_dir: Path, name: str, base: str, tag: str) -> None:
    repo = repo_for(name)
    with tempfile.TemporaryDirectory(prefix=f"oplab-{name}-") as tmp:
        _context(images_dir, name, base, tag, Path(tmp))
        _stream_errors(
            cli.api.build(path=tmp, tag=f"{repo}:{tag}", rm=True, forcerm=True, decode=True), f"build {name}"
        )
    _stream_errors(cli.api.push(repo, tag=tag, stream=True, decode=True), f"push {repo}:{tag}")


def ensure_images(cli: docker.DockerClient, log: Log) -> dict[str, ImageRef]:
    """Build and push whatever the registry lacks for the current inputs; return every image's refs.

    lab/images/ is copied first and both the tag and the build use the copy: a file edited meanwhile
    can never end up in an image whose tag names other contents.
    """
    with tempfile.TemporaryDirectory(prefix="oplab-images-") as tmp:
        snapshot = Path(tmp) / "images"
        ignore = shutil.ignore_patterns(*SKIP_NAMES)
        shutil.copytree(config.IMAGES_DIR, snapshot, symlinks=True, ignore=ignore)
        return _ensure_images(cli, snapshot, log)


def _ensure_images(cli: docker.DockerClient, images_dir: Path, log: Log) -> dict[str, ImageRef]:
    tag = content_hash(images_dir)
    names = image_names(images_dir)
    if not names:
        raise LabError(f"no lab/images/*/image.json under {config.IMAGES_DIR}")
    refs: dict[str, ImageRef] = {}
    base = ""
    for name in names:
        digest = registry_digest(name, tag)
        if not digest:
            base = base or ensure_base(cli, log)
            log(f"images: build and push {repo_for(name)}:{tag}")
            build_and_push(cli, images_dir, name, base, tag)
            digest = registry_digest(name, tag)
            if not digest:
                raise LabError(f"pushed {repo_for(name)}:{tag} but the registry does not list it")
            _drop_old_tags(cli, name, tag)
        refs[name] = ImageRef(name, repo_for(name), tag, digest)
    return refs


def _drop_old_tags(cli: docker.DockerClient, name: str, tag: str) -> None:
    """Untag the host's earlier builds of this image (the registry keeps them; only the host is tidied)."""
    repo = repo_for(name)
    for image in cli.images.list(name=repo):
        for old in image.tags:
            if old.startswith(f"{repo}:") and old != f"{repo}:{tag}":
                with contextlib.suppress(docker.errors.APIError):
                    cli.images.remove(old)
